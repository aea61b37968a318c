// The durable job queue (pg-boss, server/jobs/queue.ts) and the email worker against a
// real SMTP server process (test/support/mail.ts): a job exists if and only if its
// transaction commits; an email arrives with the Message-ID of its job, in both locales.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countQueries } from '../db/client.ts';
import { queueEmail } from '../server/email/outbox.ts';
import { startQueueWorkers } from '../server/jobs/workers.ts';
import { ADMIN_ENV, account, adminAccount } from './accounts.ts';
import { sleep } from './faults/support.ts';
import { createTestDeps, DB_KINDS } from './helpers.ts';
import { startTestServer, type TestServer } from './server.ts';
import { type MailServer, startMailServer } from './support/mail.ts';

let mail: MailServer;
beforeAll(async () => {
  mail = await startMailServer();
});
afterAll(async () => {
  await mail?.dispose();
});

describe.each(DB_KINDS)('job queue and email (%s)', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  let stopWorkers: () => Promise<void>;
  beforeAll(async () => {
    deps = await createTestDeps(kind, { ...mail.env, QUEUE_POLL_SECONDS: '0.5' });
    stopWorkers = await startQueueWorkers(deps);
  }, 60_000);
  afterAll(async () => {
    await stopWorkers?.();
    await deps?.dispose();
  });

  const jobsNamed = async (to: string) => (await deps.queue.boss.findJobs('email', { data: { to } })).length;

  it('enqueues in the caller transaction: a committed write has its job, a rolled-back one none', async () => {
    const committed = `commit-${kind}@example.com`;
    const rolledBack = `rollback-${kind}@example.com`;
    await deps.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT 1`);
      await queueEmail(deps, tx, {
        template: 'erasureCancelled',
        to: committed,
        locale: 'en',
        vars: { name: 'A' },
      });
    });
    await expect(
      deps.db.transaction(async (tx) => {
        await queueEmail(deps, tx, { template: 'erasureCancelled', to: rolledBack, locale: 'en' });
        throw new Error('the business write failed');
      }),
    ).rejects.toThrow('the business write failed');
    expect(await jobsNamed(committed)).toBe(1);
    expect(await jobsNamed(rolledBack)).toBe(0);
    const received = await mail.waitFor((m) => m.some((x) => x.to.includes(committed)));
    expect(received.filter((x) => x.to.includes(rolledBack))).toHaveLength(0);
  });

  it('costs one statement per job inside the transaction', async () => {
    await deps.db.transaction(async (tx) => {
      const { queries } = await countQueries(() =>
        queueEmail(deps, tx, { template: 'erasureCancelled', to: `count-${kind}@example.com`, locale: 'en' }),
      );
      expect(queries).toBe(1);
    });
  });

  it('sends over SMTP (STARTTLS, AUTH) with a Message-ID from the job id, text and HTML, in Hindi', async () => {
    const to = `hindi-${kind}@example.com`;
    const id = await deps.db.transaction((tx) =>
      queueEmail(deps, tx, { template: 'passwordChanged', to, locale: 'hi', vars: { name: 'आशा <b>' } }),
    );
    const [m] = (await mail.waitFor((all) => all.some((x) => x.to.includes(to)))).filter((x) =>
      x.to.includes(to),
    );
    expect(m!.messageId).toBe(`<${id}@manas360.test>`);
    expect(m!.subject).toBe('आपका MANAS360 पासवर्ड बदल दिया गया');
    expect(m!.text).toContain('नमस्ते आशा <b>,');
    // HTML escapes the variables.
    expect(m!.html).toContain('आशा &lt;b&gt;');
    expect(m!.html).not.toContain('आशा <b>');
  });
});

describe('a message that keeps failing (pglite)', () => {
  let server: TestServer;
  let stopWorkers: () => Promise<void>;
  beforeAll(async () => {
    server = await startTestServer({
      env: {
        ...mail.env,
        ...ADMIN_ENV,
        QUEUE_POLL_SECONDS: '0.5',
        QUEUE_MAX_ATTEMPTS: '3',
        QUEUE_RETRY_DELAY_SECONDS: '1',
        QUEUE_RETRY_DELAY_MAX_SECONDS: '1',
      },
    });
    stopWorkers = await startQueueWorkers(server.deps);
  }, 60_000);
  afterAll(async () => {
    await stopWorkers?.();
    await server?.close();
  });

  it('ends dead-lettered after its attempts, raises the alert metric, and an admin sends it again', async () => {
    const { deps } = server;
    const to = 'bounce-me@example.com'; // the SMTP server refuses it (550)
    const id = await deps.db.transaction((tx) =>
      queueEmail(deps, tx, { template: 'erasureCancelled', to, locale: 'en' }),
    );
    const admin = (await adminAccount(server)).api;
    let queues = await admin.admin.jobs.queues.query();
    for (let i = 0; i < 600 && queues[0]!.deadLetters === 0; i++) {
      await sleep(100);
      queues = await admin.admin.jobs.queues.query();
    }
    expect(queues).toEqual([
      expect.objectContaining({ name: 'email', failed: 1, deadLetters: 1, queued: 0 }),
      expect.objectContaining({ name: 'account', failed: 0, deadLetters: 0 }),
    ]);
    const [failed] = await admin.admin.jobs.list.query({ queue: 'email', state: 'failed' });
    expect(failed).toMatchObject({ id, state: 'failed', retryCount: 2, retryLimit: 2 });
    expect(failed!.error).toMatch(/550|Mailbox unavailable/);
    const dead = await admin.admin.jobs.list.query({ queue: 'email-dead' });
    expect(dead).toHaveLength(1);
    // The alert metric (read at scrape time, cached 5 s).
    await sleep(5100);
    const metric = await deps.metrics.registry.getSingleMetricAsString('job_queue_dead_letters');
    expect(metric).toContain('job_queue_dead_letters{queue="email"} 1');
    expect(await deps.metrics.registry.getSingleMetricAsString('job_queue_attempts_total')).toContain(
      'job_queue_attempts_total{queue="email",outcome="failed"} 3',
    );
    // Nothing reached the SMTP server for it.
    expect((await mail.messages()).filter((m) => m.to.includes(to))).toHaveLength(0);
    // Redrive: back in the queue for new attempts (which fail again: the address still bounces).
    expect(await admin.admin.jobs.redrive.mutate({ queue: 'email' })).toEqual({ moved: 1 });
    expect((await admin.admin.jobs.queues.query())[0]!.deadLetters).toBe(0);
  }, 120_000);

  it('admin.jobs.* needs jobs.manage', async () => {
    const patient = await account(server, 'free');
    await expect(patient.api.admin.jobs.queues.query()).rejects.toThrow(/FORBIDDEN|permission/i);
  });
});
