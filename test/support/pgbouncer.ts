// PgBouncer (Debian's package) as a child process of the test, in front of the test
// server's PostgreSQL: an ini of its own in a temporary directory, a free port, stopped by
// its PID. Used by test/pgbouncer.test.ts (and the topology run's examples in deploy/).
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { canConnect } from './net.ts';

const BINARY = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find(
  (p) => spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0,
);
/** The pgbouncer binary, or undefined when the package is not installed. */
export const PGBOUNCER = BINARY;

export interface PgBouncerOptions {
  /** postgres://user@host:port/db of the real server (the database PgBouncer serves). */
  target: string;
  port: number;
  /** Server connections per database/user pair: small, so clients share them. */
  poolSize?: number;
  /** PgBouncer's ignore_startup_parameters (what an operator adds to get past the refusal). */
  ignoreStartupParameters?: string[];
  /** The address it listens on (default 127.0.0.1). */
  address?: string;
  /** query_wait_timeout in seconds (default 10, as deploy/pgbouncer/pgbouncer.ini; PgBouncer's own default is 120). */
  queryWaitTimeout?: number;
}

export interface PgBouncer {
  /** The same database, through PgBouncer. */
  url: string;
  /**
   * A command on PgBouncer's admin console (PAUSE, RESUME, RECONNECT, SHOW …), through psql
   * (the console speaks the simple query protocol only); resolves with psql's output.
   */
  admin(command: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startPgBouncer(opts: PgBouncerOptions): Promise<PgBouncer> {
  if (!BINARY) throw new Error('pgbouncer is not installed (apt-get install -y pgbouncer)');
  const target = new URL(opts.target);
  const address = opts.address ?? '127.0.0.1';
  const db = target.pathname.slice(1);
  const user = decodeURIComponent(target.username) || 'postgres';
  const dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'));
  chmodSync(dir, 0o755);
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`, { mode: 0o644 });
  writeFileSync(
    ini,
    [
      '[databases]',
      `${db} = host=${target.hostname} port=${target.port || 5432} dbname=${db}`,
      '[pgbouncer]',
      `listen_addr = ${address}`,
      `listen_port = ${opts.port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      `admin_users = ${user}`,
      'pool_mode = transaction',
      `default_pool_size = ${opts.poolSize ?? 4}`,
      'max_client_conn = 500',
      // As deploy/pgbouncer/pgbouncer.ini: after a failed server login (PostgreSQL restarting)
      // try again within 1 s, not the default 15 s; a client waits at most 10 s for a server.
      'server_login_retry = 1',
      `query_wait_timeout = ${opts.queryWaitTimeout ?? 10}`,
      ...(opts.ignoreStartupParameters?.length
        ? [`ignore_startup_parameters = ${opts.ignoreStartupParameters.join(',')}`]
        : []),
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  // PgBouncer refuses to run as root: -u drops to the postgres user when we are root.
  const asRoot = process.getuid?.() === 0 ? ['-u', 'postgres'] : [];
  const proc: ChildProcess = spawn(BINARY, [...asRoot, ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d) => (stderr += d));
  const stop = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      if (proc.exitCode !== null || proc.signalCode !== null) return done();
      proc.once('exit', done);
      proc.kill('SIGTERM');
    });
  // Up to 30 s (a loaded machine), over at once if it exited.
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) break;
    if (await canConnect(opts.port, address)) {
      const url = new URL(opts.target);
      url.host = `${address}:${opts.port}`;
      const adminUrl = new URL(url);
      adminUrl.pathname = '/pgbouncer';
      const admin = async (command: string) =>
        (await promisify(execFile)('psql', [adminUrl.toString(), '-Atqc', command])).stdout;
      return { url: url.toString(), admin, stop };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`pgbouncer did not start: ${stderr.trim().split('\n').pop()}`);
}
