// Fault: SIGTERM while the server is under steady load. The server runs as a real child
// process (`node --import tsx server/index.ts`, embedded PGlite in a temporary DATA_DIR).
// The load acts like a load balancer: it polls /readyz and stops sending new requests
// once it answers 503. Expected: readiness flips first, zero failed requests (including
// one still uploading its body while the listener closes), exit 0 within the deadline.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDataDir, NOTICE } from '../helpers.ts';
import { trpcInput } from '../server.ts';
import { scaled } from '../support/load.ts';
import { freePort, sleep } from './support.ts';

const SHUTDOWN_TIMEOUT_MS = 8000;
const SHUTDOWN_DELAY_MS = 1000;

describe('fault: SIGTERM during steady load', () => {
  let child: ChildProcess;
  let base: string;
  let dataDir: string;
  let output = '';
  const exited = () =>
    new Promise<{ code: number | null; at: number }>((resolve) => {
      if (child.exitCode !== null) resolve({ code: child.exitCode, at: performance.now() });
      child.once('exit', (code) => resolve({ code, at: performance.now() }));
    });
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'manas360-sigterm-'));
    await createMigratedDataDir(dataDir); // the server starts on a migrated database
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'development',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: dataDir,
        JWT_SECRET: randomBytes(32).toString('hex'),
        LOG_LEVEL: 'info',
        JOBS_ENABLED: 'true',
        RATE_LIMIT_GENERAL_PER_MINUTE: '1000000',
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const started = performance.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited at start:\n${output}`);
      const ok = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (performance.now() - started > scaled(60_000))
        throw new Error(`server not ready in 60 s:\n${output}`);
      await sleep(100);
    }
  }, scaled(90_000));
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * A POST whose body is sent in two parts; resolves with the status. `accepted` resolves
   * once the server has read its headers (it answers Expect: 100-continue then): from there
   * on the request is in flight, however slow the machine.
   */
  function slowUpload(body: string) {
    const half = Math.floor(body.length / 2);
    let finish!: () => void;
    let accept!: () => void;
    const accepted = new Promise<void>((resolve) => {
      accept = resolve;
    });
    const status = new Promise<number>((resolve, reject) => {
      const req = request(`${base}/trpc/auth.register`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          expect: '100-continue',
        },
      });
      req.on('continue', () => {
        req.write(body.slice(0, half));
        accept();
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.flushHeaders();
      finish = () => req.end(body.slice(half));
    });
    return { status, accepted, finish: () => finish() };
  }

  it(
    'flips readiness first, drains every request and exits 0 within the deadline',
    async () => {
      let draining = false;
      let served = 0;
      const failures: string[] = [];
      const loop = async () => {
        while (!draining) {
          try {
            const res = await fetch(`${base}/trpc/subscriptions.plans`);
            await res.arrayBuffer();
            if (res.status === 200) served++;
            else failures.push(`status ${res.status}`);
          } catch (err) {
            failures.push(String(err));
          }
        }
      };
      const readiness: Array<{ at: number; status: number | string }> = [];
      const poller = (async () => {
        while (!draining) {
          const status = await fetch(`${base}/readyz`).then(
            (r) => r.status,
            (e: Error) => e.message,
          );
          readiness.push({ at: performance.now(), status });
          if (status !== 200) draining = true;
          else await sleep(20);
        }
      })();
      const load = Array.from({ length: 6 }, loop);
      // Steady load first (progress, not a fixed time: a busy machine serves slower).
      while (served <= 10 && failures.length === 0) await sleep(20);

      const upload = slowUpload(
        trpcInput({
          email: 'late.upload@example.com',
          password: 'a long enough password',
          name: 'Late',
          acceptPrivacyNotice: NOTICE,
        }),
      );
      await upload.accepted; // its headers reached the server before the listener closes
      const servedBefore = served;
      const sigtermAt = performance.now();
      const exit = exited();
      child.kill('SIGTERM');
      await poller;
      const flippedAt = readiness.at(-1)!.at;
      await Promise.all(load);
      // Finish the upload after the listener has closed: an in-flight request is drained.
      await sleep(SHUTDOWN_DELAY_MS + 200);
      upload.finish();
      const uploadStatus = await upload.status;
      const { code, at: exitAt } = await exit;

      console.log(
        `[fault sigterm] ${served} requests served (${servedBefore} before SIGTERM), ${failures.length} failed; ` +
          `readiness 503 ${(flippedAt - sigtermAt).toFixed(0)} ms after SIGTERM; in-flight upload answered ${uploadStatus}; ` +
          `exit ${code} ${(exitAt - sigtermAt).toFixed(0)} ms after SIGTERM (deadline ${SHUTDOWN_TIMEOUT_MS} ms)`,
      );
      if (code !== 0 || exitAt - sigtermAt > 3000) console.log(output.split('\n').slice(-15).join('\n'));
      expect(servedBefore).toBeGreaterThan(10);
      expect(failures).toEqual([]);
      expect(readiness.at(-1)!.status).toBe(503); // the balancer saw 503, not a refused connection
      expect(uploadStatus).toBe(200);
      expect(code).toBe(0);
      expect(exitAt - sigtermAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
      expect(output).toContain('shutdown complete');
    },
    scaled(60_000),
  );
});
