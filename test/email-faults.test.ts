// Faults on the way to the mail server: the SMTP server down for a while, and a worker
// process (`npm run worker`) killed with SIGKILL in the middle of a send. Every message
// arrives after recovery, and each Message-ID reaches the SMTP server once.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueEmail } from '../server/email/outbox.ts';
import { startQueueWorkers } from '../server/jobs/workers.ts';
import { sleep } from './faults/support.ts';
import { createTestDeps, REAL_DATABASE_URL } from './helpers.ts';
import { type MailServer, type ReceivedMail, startMailServer } from './support/mail.ts';

const FAST = {
  QUEUE_POLL_SECONDS: '0.5',
  QUEUE_RETRY_DELAY_SECONDS: '1',
  QUEUE_RETRY_DELAY_MAX_SECONDS: '2',
  QUEUE_MAX_ATTEMPTS: '20',
  SMTP_TIMEOUT_MS: '3000',
};

/** Messages per Message-ID among those to `prefix`*. */
function copies(messages: ReceivedMail[], prefix: string): Map<string, number> {
  const by = new Map<string, number>();
  for (const m of messages)
    if (m.to.some((t) => t.startsWith(prefix))) by.set(m.messageId!, (by.get(m.messageId!) ?? 0) + 1);
  return by;
}

describe('the SMTP server down for a while', () => {
  let mail: MailServer;
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  let stopWorkers: () => Promise<void>;
  beforeAll(async () => {
    mail = await startMailServer();
    deps = await createTestDeps('pglite', { ...mail.env, ...FAST });
    stopWorkers = await startQueueWorkers(deps);
  }, 90_000);
  afterAll(async () => {
    await stopWorkers?.();
    await deps?.dispose();
    await mail?.dispose();
  });

  it('delivers every message once it is back, one copy per Message-ID', async () => {
    await mail.stop();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(
        await deps.db.transaction((tx) =>
          queueEmail(deps, tx, { template: 'erasureCancelled', to: `outage${i}@example.com`, locale: 'en' }),
        ),
      );
    // Attempts fail while it is down (connection refused): they are retried, not lost.
    for (let i = 0; i < 600; i++) {
      if ((await deps.queue.list('email', { state: 'retry', limit: 100 })).length > 0) break;
      await sleep(100);
    }
    expect((await deps.queue.list('email', { state: 'retry', limit: 100 })).length).toBeGreaterThan(0);
    await sleep(3000);
    await mail.start();
    const received = await mail.waitFor((m) => copies(m, 'outage').size === 10, 120_000);
    const by = copies(received, 'outage');
    expect([...by.keys()].sort()).toEqual(ids.map((id) => `<${id}@manas360.test>`).sort());
    expect([...by.values()].every((n) => n === 1)).toBe(true);
  }, 180_000);
});

describe.skipIf(!REAL_DATABASE_URL)('a worker process killed with SIGKILL mid-send (PostgreSQL)', () => {
  let mail: MailServer;
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  let dataDir: string;
  const workers: ChildProcess[] = [];
  beforeAll(async () => {
    // The SMTP server holds a message to slow* for 6 s before it accepts it.
    mail = await startMailServer({ slowMs: 6000 });
    deps = await createTestDeps('postgres', { ...mail.env, ...FAST, QUEUE_JOB_TIMEOUT_SECONDS: '10' });
    dataDir = mkdtempSync(join(tmpdir(), 'manas360-worker-'));
  }, 90_000);
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await deps?.dispose();
    await mail?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** `env`: settings of this worker beyond the suite's. */
  const startWorker = (env: Record<string, string> = {}) => {
    const url = (deps.database as { url?: string }).url!;
    const w = spawn(process.execPath, ['--import', 'tsx', 'server/worker.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: url,
        DATA_DIR: dataDir,
        ...mail.env,
        ...FAST,
        QUEUE_JOB_TIMEOUT_SECONDS: '10',
        QUEUE_MAINTENANCE_SECONDS: '2',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    workers.push(w);
    return w;
  };

  it('the interrupted message is sent again by the next worker, once', async () => {
    const first = startWorker();
    const id = await deps.db.transaction((tx) =>
      queueEmail(deps, tx, { template: 'erasureCancelled', to: 'slow-kill@example.com', locale: 'en' }),
    );
    // Wait until the worker holds the job (active: it is in the middle of the SMTP DATA).
    for (let i = 0; i < 900; i++) {
      if ((await deps.queue.list('email', { state: 'active', limit: 10 })).some((j) => j.id === id)) break;
      await sleep(100);
    }
    expect((await deps.queue.list('email', { state: 'active', limit: 10 })).map((j) => j.id)).toContain(id);
    await sleep(500);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // The SMTP server never accepted it (the connection died before the end of DATA).
    await sleep(6500);
    expect(copies(await mail.messages(), 'slow-kill').size).toBe(0);
    // The next worker waits long enough for the slow acceptance (the first would have too).
    startWorker({ SMTP_TIMEOUT_MS: '10000' });
    const received = await mail.waitFor((m) => copies(m, 'slow-kill').size === 1, 150_000);
    expect([...copies(received, 'slow-kill').entries()]).toEqual([[`<${id}@manas360.test>`, 1]]);
    await sleep(2000);
    expect([...copies(await mail.messages(), 'slow-kill').values()]).toEqual([1]);
  }, 240_000);
});
