// One process at a time on an embedded (PGlite) database directory. PGlite is a whole
// Postgres inside one process, with no shared-memory coordination: a second process opening
// the same files (`npm run db:seed` while `npm start` runs) corrupts them, and every later
// start fails. So DATA_DIR/pglite.lock holds the owner's PID, command and start time, created
// atomically (a complete file linked into place, which fails if one exists). A lock whose PID
// is gone (a crash, kill -9) is stale and taken over; a live owner is named in the refusal.
import { existsSync, linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';

export const LOCK_FILE = 'pglite.lock';

export interface LockHolder {
  pid: number;
  /** The holder's script and arguments, relative to its working directory. */
  command: string;
  startedAt: string;
}

/** The directory is in use by another live process; the message says what to do. */
export class EmbeddedDatabaseBusyError extends Error {
  readonly holder: LockHolder;
  readonly lockFile: string;
  constructor(dataDir: string, lockFile: string, holder: LockHolder) {
    super(
      `the embedded database in ${dataDir} is in use by process ${holder.pid} (${describe(holder.command)}, ` +
        `started ${holder.startedAt}). Two processes on one embedded database corrupt it, so this one ` +
        `stops. Stop process ${holder.pid} first (Ctrl-C in its terminal, or kill ${holder.pid}), then run ` +
        'this command again: to seed, stop the server, run npm run db:seed, then npm start. Or set ' +
        'DATABASE_URL to a PostgreSQL database, which serves any number of processes.',
    );
    this.name = 'EmbeddedDatabaseBusyError';
    this.holder = holder;
    this.lockFile = lockFile;
  }
}

function describe(command: string): string {
  if (/\bserver(\/index\.ts|\.js)\b/.test(command)) return `the API server: ${command}`;
  if (/\bseed\.ts\b/.test(command)) return `a seed: ${command}`;
  if (/\bmigrate\.(ts|js)\b/.test(command)) return `a migration: ${command}`;
  return command || 'unknown command';
}

/** Lock files this process holds (a second open in the same process is refused too). */
const held = new Set<string>();
let exitHookInstalled = false;

function readHolder(file: string): LockHolder | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && Number.isSafeInteger(v.pid) && v.pid > 0)
      return { pid: v.pid, command: String(v.command ?? ''), startedAt: String(v.startedAt ?? '') };
  } catch {
    // unreadable or half-written by hand: treated as no holder
  }
  return undefined;
}

/** Whether the holder still runs: its PID exists (EPERM: it does, as another user). */
function isAlive(holder: LockHolder, file: string): boolean {
  // Our own PID in a lock we do not hold: a previous run in a container that reuses PIDs.
  if (holder.pid === process.pid) return held.has(file);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLine(): string {
  return process.argv
    .slice(1)
    .map((a) => (isAbsolute(a) ? relative(process.cwd(), a) || a : a))
    .join(' ');
}

/**
 * Takes DATA_DIR's lock for this process, or throws EmbeddedDatabaseBusyError naming the live
 * holder. Returns the release function (also run at process exit).
 */
export function acquireEmbeddedLock(dataDir: string): () => void {
  const file = join(dataDir, LOCK_FILE);
  const mine: LockHolder = { pid: process.pid, command: commandLine(), startedAt: new Date().toISOString() };
  const draft = `${file}.${process.pid}.new`;
  writeFileSync(draft, `${JSON.stringify(mine)}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, file); // atomic: fails with EEXIST while a lock exists
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const holder = readHolder(file);
      if (holder && isAlive(holder, file)) throw new EmbeddedDatabaseBusyError(dataDir, file, holder);
      takeOverStale(file, holder, dataDir);
    }
  } finally {
    unlinkSync(draft);
  }
  held.add(file);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const f of held) releaseFile(f);
    });
  }
  return () => releaseFile(file);
}

/**
 * Moves a stale lock aside. Renaming is atomic, so of two processes taking over at once one
 * gets the stale file; the other, if it moved the winner's fresh lock, puts it back and stops.
 */
function takeOverStale(file: string, seen: LockHolder | undefined, dataDir: string): void {
  const grave = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, grave);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // released meanwhile
    throw err;
  }
  const moved = readHolder(grave);
  if (moved && (moved.pid !== seen?.pid || moved.startedAt !== seen.startedAt) && isAlive(moved, file)) {
    try {
      linkSync(grave, file);
    } finally {
      unlinkSync(grave);
    }
    throw new EmbeddedDatabaseBusyError(dataDir, file, moved);
  }
  unlinkSync(grave);
}

function releaseFile(file: string): void {
  if (!held.delete(file)) return;
  if (existsSync(file) && readHolder(file)?.pid === process.pid) unlinkSync(file);
}
