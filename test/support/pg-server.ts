// A PostgreSQL server of the test's own (initdb into a temporary directory, a free port, run
// as the postgres user when we are root), which the test may restart (`pg_ctl -m fast`) or
// crash (SIGKILL of the postmaster) and start again on the same port and data. Nothing
// touches the shared server on 5432. stop() stops it and removes the directory.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../faults/support.ts';

const BIN = ['/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((d) =>
  existsSync(join(d, 'initdb')),
);
const AS_ROOT = process.getuid?.() === 0;
/** Whether this machine can run a PostgreSQL server of its own (Debian's binaries). */
export const HAVE_PG_SERVER = Boolean(BIN);

function run(cmd: string, args: string[]): string {
  const [file, argv] = AS_ROOT
    ? ['runuser', ['-u', 'postgres', '--', join(BIN!, cmd), ...args]]
    : [join(BIN!, cmd), args];
  const res = spawnSync(file, argv, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${cmd} failed: ${res.stderr || res.stdout}`);
  return res.stdout;
}

/** The same command without blocking the event loop (the test's load keeps running meanwhile). */
export async function runAsync(cmd: string, args: string[]): Promise<void> {
  const [file, argv] = AS_ROOT
    ? ['runuser', ['-u', 'postgres', '--', join(BIN!, cmd), ...args]]
    : [join(BIN!, cmd), args];
  await promisify(execFile)(file, argv);
}

/**
 * `pg_ctl start` on a data directory, waiting until it accepts. After a SIGKILL of the
 * postmaster a start fails while its old backends (which exit when they notice the
 * postmaster is gone) still hold its shared memory: it tries again a few times.
 */
export async function startDataDir(data: string, logFile: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await runAsync('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '120', 'start']);
      return;
    } catch (err) {
      if (attempt >= 40) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** SIGKILL of the postmaster of a data directory (a crash). */
export function killPostmaster(data: string): void {
  process.kill(Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGKILL');
}

export interface PgServer {
  port: number;
  url(db: string): string;
  /** `pg_ctl -m fast stop`: sessions end, a clean shutdown. */
  stopFast(): Promise<void>;
  /** SIGKILL of the postmaster (its backends exit when they notice): a crash. */
  kill(): void;
  /** Start again on the same port and data (after a crash: with crash recovery); waits until it accepts. */
  start(): Promise<void>;
  stop(): void;
}

/** `address`: where it listens (default 127.0.0.1); clients on its subnet are trusted. */
export function startPgServer({ address = '127.0.0.1' }: { address?: string } = {}): Promise<PgServer> {
  return freePort().then((port) => {
    if (!BIN) throw new Error('PostgreSQL server binaries are not installed');
    const dir = mkdtempSync(join(tmpdir(), 'pgserver-'));
    chmodSync(dir, 0o777);
    const data = join(dir, 'data');
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-N']);
    writeFileSync(
      join(data, 'postgresql.auto.conf'),
      [
        `port = ${port}`,
        `listen_addresses = '${address}'`,
        `unix_socket_directories = '${dir}'`,
        'fsync = off',
        'shared_buffers = 32MB',
        'max_connections = 100',
        '',
      ].join('\n'),
    );
    writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all samenet trust\n');
    const start = () => startDataDir(data, join(dir, 'server.log'));
    run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '120', 'start']);
    let stopped = false;
    return {
      port,
      url: (db: string) => `postgres://postgres@${address}:${port}/${db}`,
      stopFast: () => runAsync('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
      kill: () => killPostmaster(data),
      start,
      stop() {
        if (stopped) return;
        stopped = true;
        spawnSync(AS_ROOT ? 'runuser' : join(BIN, 'pg_ctl'), [
          ...(AS_ROOT ? ['-u', 'postgres', '--', join(BIN, 'pg_ctl')] : []),
          '-D',
          data,
          '-m',
          'immediate',
          '-w',
          'stop',
        ]);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}
