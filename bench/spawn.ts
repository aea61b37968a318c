// Starts bench/server.ts as a child process with the benchmark's environment (no Redis,
// limits and jobs off, quiet logs) and resolves once it prints "ready".
import { type ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

export interface BenchServerOptions {
  mode: 'raw' | 'app';
  port: number;
  dbUrl: string;
  /** Added to (and overriding) the benchmark environment. */
  env?: Record<string, string>;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Wraps the command, e.g. to pin it to a core with taskset. */
  wrap?: (cmd: string[]) => string[];
}

export async function startBenchServer(opts: BenchServerOptions): Promise<ChildProcess> {
  const base = [process.execPath, '--import', 'tsx', '--expose-gc', ...(opts.nodeArgs ?? [])];
  const cmd = (opts.wrap ?? ((c) => c))([...base, join(ROOT, 'bench/server.ts'), opts.mode]);
  const child = spawn(cmd[0]!, cmd.slice(1), {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'development',
      PORT: String(opts.port),
      DATABASE_URL: opts.dbUrl,
      REDIS_URL: '',
      RATE_LIMIT_ENABLED: 'false',
      JOBS_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      DATA_DIR: join(tmpdir(), 'manas360-bench'),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`${opts.mode} server exited (${code}) before it was ready`)));
  });
  return child;
}
