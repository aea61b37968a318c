// A Redis primary, a replica and three Sentinels (Debian's redis-server / redis-sentinel) as
// child processes of the test, on free ports, in a temporary directory, with passwords.
// killPrimary() is the fault (SIGKILL); stop() kills what is left by PID.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from '../faults/support.ts';
import { canConnect } from './net.ts';

export const HAVE_SENTINEL = ['redis-server', 'redis-sentinel'].every((cmd) => {
  try {
    return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
});

export const MASTER_NAME = 'mymaster';

export interface SentinelSet {
  primaryPort: number;
  replicaPort: number;
  sentinelPorts: number[];
  password: string;
  sentinelPassword: string;
  /** REDIS_SENTINELS for the API: 127.0.0.1:port,... */
  sentinels: string;
  killPrimary(): void;
  stop(): Promise<void>;
}

/** `address`: where all five listen, and the address the sentinels give out (default 127.0.0.1). */
export async function startSentinelSet({
  address = '127.0.0.1',
}: {
  address?: string;
} = {}): Promise<SentinelSet> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-'));
  const password = 'redis-primary-password';
  const sentinelPassword = 'redis-sentinel-password';
  const [primaryPort, replicaPort, ...sentinelPorts] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const procs: ChildProcess[] = [];
  const server = (port: number, extra: string[]) => {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        address,
        '--save',
        '',
        '--appendonly',
        'no',
        '--requirepass',
        password,
        '--masterauth',
        password,
        '--dir',
        dir,
        ...extra,
      ],
      { stdio: 'ignore' },
    );
    procs.push(proc);
    return proc;
  };
  const primary = server(primaryPort!, []);
  await listening(address, primaryPort!);
  server(replicaPort!, ['--replicaof', address, String(primaryPort)]);
  await listening(address, replicaPort!);
  for (const port of sentinelPorts) {
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        `bind ${address}`,
        `dir ${dir}`,
        'sentinel resolve-hostnames no',
        `sentinel monitor ${MASTER_NAME} ${address} ${primaryPort} 2`,
        `sentinel auth-pass ${MASTER_NAME} ${password}`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        `requirepass ${sentinelPassword}`,
        `sentinel sentinel-pass ${sentinelPassword}`,
        '',
      ].join('\n'),
    );
    procs.push(spawn('redis-sentinel', [conf], { stdio: 'ignore' }));
    await listening(address, port);
  }
  // The sentinels have found the replica and each other before the test starts.
  for (let i = 0; i < 100; i++) {
    const out = spawnSync('redis-cli', [
      '-h',
      address,
      '-p',
      String(sentinelPorts[0]),
      '--no-auth-warning',
      '-a',
      sentinelPassword,
      'sentinel',
      'master',
      MASTER_NAME,
    ]).stdout.toString();
    const field = (name: string) => Number(out.split('\n')[out.split('\n').indexOf(name) + 1]);
    if (field('num-slaves') >= 1 && field('num-other-sentinels') >= 2) break;
    await sleep(100);
  }
  return {
    primaryPort: primaryPort!,
    replicaPort: replicaPort!,
    sentinelPorts,
    password,
    sentinelPassword,
    sentinels: sentinelPorts.map((p) => `${address}:${p}`).join(','),
    killPrimary: () => primary.kill('SIGKILL'),
    async stop() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGKILL');
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function listening(host: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await canConnect(port, host)) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${host}:${port}`);
}
