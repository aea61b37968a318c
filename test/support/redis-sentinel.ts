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
  /**
   * Redis and every Sentinel down (SIGTERM, then waits for the exits): an outage of the
   * whole set. upAgain() starts what was running, on the same ports: the primary of the
   * moment as primary, the others as its replicas, the Sentinels from their (rewritten) files.
   */
  stopAll(): Promise<void>;
  upAgain(): Promise<void>;
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
  /** What runs on each port (the restart after stopAll). */
  const running = new Map<number, ChildProcess>();
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
        // The address the others reach it on, whatever source address its own connections
        // take (a machine with several addresses: the topology run's Redis has one of its own).
        '--replica-announce-ip',
        address,
        ...extra,
      ],
      { stdio: 'ignore' },
    );
    procs.push(proc);
    running.set(port, proc);
    return proc;
  };
  const sentinel = (port: number) => {
    const proc = spawn('redis-sentinel', [join(dir, `sentinel-${port}.conf`)], { stdio: 'ignore' });
    procs.push(proc);
    running.set(port, proc);
  };
  const sentinelCli = (...args: string[]) =>
    spawnSync('redis-cli', [
      '-h',
      address,
      '-p',
      String(sentinelPorts[0]),
      '--no-auth-warning',
      '-a',
      sentinelPassword,
      ...args,
    ]).stdout.toString();
  const exited = (p: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
    });
  const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
  let stoppedPorts: number[] = [];
  let primaryOfTheMoment = primaryPort!;
  const primary = server(primaryPort!, []);
  await listening(address, primaryPort!);
  server(replicaPort!, ['--replicaof', address, String(primaryPort)]);
  await listening(address, replicaPort!);
  for (const port of sentinelPorts) {
    writeFileSync(
      join(dir, `sentinel-${port}.conf`),
      [
        `port ${port}`,
        `bind ${address}`,
        `sentinel announce-ip ${address}`,
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
    sentinel(port);
    await listening(address, port);
  }
  // The sentinels have found the replica and each other before the test starts.
  for (let i = 0; i < 100; i++) {
    const out = sentinelCli('sentinel', 'master', MASTER_NAME);
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
    async stopAll() {
      const [, port] = sentinelCli('sentinel', 'get-master-addr-by-name', MASTER_NAME).trim().split('\n');
      if (Number(port)) primaryOfTheMoment = Number(port);
      const up = [...running].filter(([, p]) => alive(p));
      stoppedPorts = up.map(([port]) => port);
      for (const [, p] of up) p.kill('SIGTERM');
      await Promise.all(up.map(([, p]) => exited(p)));
    },
    async upAgain() {
      const servers = stoppedPorts.filter((p) => !sentinelPorts.includes(p));
      // The primary first, then its replicas, then the Sentinels.
      for (const port of servers.sort(
        (a, b) => Number(b === primaryOfTheMoment) - Number(a === primaryOfTheMoment),
      ))
        server(port, port === primaryOfTheMoment ? [] : ['--replicaof', address, String(primaryOfTheMoment)]);
      for (const port of stoppedPorts.filter((p) => sentinelPorts.includes(p))) sentinel(port);
      for (const port of stoppedPorts) await listening(address, port);
      stoppedPorts = [];
    },
    async stop() {
      for (const p of procs) if (alive(p)) p.kill('SIGKILL');
      await Promise.all(procs.map(exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Up to 30 s (a loaded machine starts a process late; a healthy one listens in milliseconds). */
async function listening(host: string, port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await canConnect(port, host)) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${host}:${port}`);
}
