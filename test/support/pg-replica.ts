// A PostgreSQL primary and a streaming replica of their own (initdb + pg_basebackup -R), on
// free ports in a temporary directory, run as the postgres user; stop() stops both and
// removes the directory. Nothing touches the shared server on 5432.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../faults/support.ts';
import { killPostmaster, runAsync, startDataDir } from './pg-server.ts';

const BIN = ['/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((d) =>
  existsSync(join(d, 'initdb')),
);
const AS_ROOT = process.getuid?.() === 0;
/** Whether this machine can run a primary + replica pair (Debian's PostgreSQL binaries). */
export const HAVE_PG_BINARIES = Boolean(BIN);

function run(cmd: string, args: string[]): string {
  const full = AS_ROOT
    ? ['runuser', ['-u', 'postgres', '--', join(BIN!, cmd), ...args]]
    : [join(BIN!, cmd), args];
  const res = spawnSync(full[0] as string, full[1] as string[], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${cmd} failed: ${res.stderr || res.stdout}`);
  return res.stdout;
}

export interface PgPair {
  primaryUrl(db: string): string;
  replicaUrl(db: string): string;
  /** Pause / resume WAL replay on the replica (a replica that lags). */
  pauseReplay(): void;
  resumeReplay(): void;
  /** Stop the replica at once (a replica that is down). */
  stopReplica(): void;
  /** `pg_ctl -m fast restart` of the primary (sessions end, a clean shutdown, started again). */
  restartPrimary(): Promise<void>;
  /** SIGKILL of the primary's postmaster (a crash). */
  killPrimary(): void;
  /** Start the primary again on its port and data (after a crash: with crash recovery). */
  startPrimary(): Promise<void>;
  stop(): void;
}

/** `address`: where both listen (default 127.0.0.1); clients on its subnet are trusted. */
export async function startPgPair({ address = '127.0.0.1' }: { address?: string } = {}): Promise<PgPair> {
  if (!BIN) throw new Error('PostgreSQL server binaries are not installed');
  const dir = mkdtempSync(join(tmpdir(), 'pgpair-'));
  chmodSync(dir, 0o777);
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const primaryDir = join(dir, 'primary');
  const replicaDir = join(dir, 'replica');
  const psql = (port: number, sql: string) =>
    run('psql', ['-h', address, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-Atqc', sql]);
  run('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '-N']);
  writeFileSync(
    join(primaryDir, 'postgresql.auto.conf'),
    [
      `port = ${primaryPort}`,
      `listen_addresses = '${address}'`,
      `unix_socket_directories = '${dir}'`,
      'fsync = off',
      'wal_level = replica',
      'max_wal_senders = 4',
      'shared_buffers = 32MB',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(primaryDir, 'pg_hba.conf'),
    'local all all trust\nhost all all samenet trust\nhost replication all samenet trust\n',
  );
  run('pg_ctl', ['-D', primaryDir, '-l', join(dir, 'primary.log'), '-w', 'start']);
  run('pg_basebackup', [
    '-h',
    address,
    '-p',
    String(primaryPort),
    '-U',
    'postgres',
    '-D',
    replicaDir,
    '-R',
    '-X',
    'stream',
  ]);
  // The replica's own port (it inherited the primary's settings; the last line wins).
  spawnSync('sh', ['-c', `echo "port = ${replicaPort}" >> '${join(replicaDir, 'postgresql.auto.conf')}'`]);
  run('pg_ctl', ['-D', replicaDir, '-l', join(dir, 'replica.log'), '-w', 'start']);
  const url = (port: number, db: string) => `postgres://postgres@${address}:${port}/${db}`;
  let stopped = false;
  return {
    primaryUrl: (db) => url(primaryPort, db),
    replicaUrl: (db) => url(replicaPort, db),
    pauseReplay: () => void psql(replicaPort, 'SELECT pg_wal_replay_pause()'),
    resumeReplay: () => void psql(replicaPort, 'SELECT pg_wal_replay_resume()'),
    stopReplica: () => void run('pg_ctl', ['-D', replicaDir, '-m', 'immediate', '-w', 'stop']),
    restartPrimary: () =>
      runAsync('pg_ctl', ['-D', primaryDir, '-l', join(dir, 'primary.log'), '-m', 'fast', '-w', 'restart']),
    killPrimary: () => killPostmaster(primaryDir),
    startPrimary: () => startDataDir(primaryDir, join(dir, 'primary.log')),
    stop() {
      if (stopped) return;
      stopped = true;
      for (const d of [replicaDir, primaryDir])
        spawnSync(AS_ROOT ? 'runuser' : join(BIN, 'pg_ctl'), [
          ...(AS_ROOT ? ['-u', 'postgres', '--', join(BIN, 'pg_ctl')] : []),
          '-D',
          d,
          '-m',
          'immediate',
          '-w',
          'stop',
        ]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
