// Figures of the job queue and email (issue 26): enqueue cost per job (statements, µs;
// beside a plain INSERT in the same transaction as the yardstick), delivery latency at
// 100 jobs/s for 10 s to a real SMTP server process, and auth.requestPasswordReset's
// answer time for existing vs unknown addresses (interleaved, over HTTP).
//   BENCH_EMAIL=1 DATABASE_URL=postgres://… npx vitest run test/email-figures.test.ts
// (a figure run, skipped in the suite; PGlite without DATABASE_URL). It runs under vitest
// because the test server and database helpers do.
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { countQueries } from '../db/client.ts';
import { queueEmail } from '../server/email/outbox.ts';
import { startQueueWorkers } from '../server/jobs/workers.ts';
import { percentile, sleep } from './faults/support.ts';
import { NOTICE, REAL_DATABASE_URL } from './helpers.ts';
import { registerUser, startTestServer } from './server.ts';
import { startMailServer } from './support/mail.ts';

it.skipIf(!process.env.BENCH_EMAIL)(
  'email figures',
  async () => {
    const kind = REAL_DATABASE_URL ? 'postgres' : 'pglite';
    const mail = await startMailServer();
    const server = await startTestServer({
      kind,
      env: {
        ...mail.env,
        QUEUE_POLL_SECONDS: '0.5',
        EMAIL_CONCURRENCY: '8',
        SMTP_POOL_MAX: '4',
        TRUST_PROXY: 'true',
      },
    });
    const { deps } = server;
    try {
      // 1. Enqueue cost: N jobs in one transaction, against N plain INSERTs of an audit entry.
      const N = 300;
      const timeIn = async (
        fn: (i: number, tx: Parameters<Parameters<typeof deps.db.transaction>[0]>[0]) => Promise<unknown>,
      ) =>
        deps.db.transaction(async (tx) => {
          const t = performance.now();
          for (let i = 0; i < N; i++) await fn(i, tx);
          return ((performance.now() - t) * 1000) / N;
        });
      const yard = await timeIn((i, tx) =>
        tx.execute(
          sql`INSERT INTO audit_log (action, details) VALUES ('bench.yardstick', ${JSON.stringify({ i })}::jsonb)`,
        ),
      );
      const enq = await timeIn((i, tx) =>
        queueEmail(deps, tx, { template: 'erasureCancelled', to: `enqueue${i}@bench.test`, locale: 'en' }),
      );
      const { queries } = await deps.db.transaction((tx) =>
        countQueries(() =>
          queueEmail(deps, tx, { template: 'erasureCancelled', to: 'count@bench.test', locale: 'en' }),
        ),
      );
      console.log(
        `[${kind}] enqueue: ${queries} statement(s)/job, ${enq.toFixed(0)} µs/job; yardstick INSERT ${yard.toFixed(0)} µs (ratio ${(enq / yard).toFixed(2)})`,
      );

      // Drain the enqueue-cost jobs before the latency run.
      const stop = await startQueueWorkers(deps);
      await mail.waitFor(
        (m) => m.filter((x) => x.to.some((t) => t.startsWith('enqueue'))).length >= N,
        300_000,
      );

      // 2. Delivery latency at 100 jobs/s for 10 s: commit → accepted by the SMTP server.
      const sent = new Map<string, number>();
      const t0 = Date.now();
      for (let i = 0; i < 1000; i++) {
        const due = t0 + i * 10;
        if (Date.now() < due) await sleep(due - Date.now());
        const to = `lat${i}@bench.test`;
        await deps.db.transaction((tx) =>
          queueEmail(deps, tx, { template: 'erasureCancelled', to, locale: 'en' }),
        );
        sent.set(to, Date.now());
      }
      const rate = 1000 / ((Date.now() - t0) / 1000);
      const received = await mail.waitFor(
        (m) => m.filter((x) => x.to.some((t) => t.startsWith('lat'))).length >= 1000,
        600_000,
      );
      // The SMTP server's own acceptance times (the messages file beside its certificate).
      const raw = readFileSync(mail.env.SMTP_TLS_CA_FILE!.replace(/cert\.pem$/, 'messages.jsonl'), 'utf8');
      const at = new Map<string, number>();
      for (const l of raw.split('\n').filter(Boolean)) {
        const r = JSON.parse(l) as { to: string[]; at: number };
        if (r.to[0]?.startsWith('lat')) at.set(r.to[0], r.at);
      }
      const lat = [...sent].map(([to, s]) => (at.get(to) ?? Number.NaN) - s);
      console.log(
        `[${kind}] delivery at ${rate.toFixed(0)} jobs/s offered, ${received.length} messages: p50 ${percentile(lat, 50)} ms, p95 ${percentile(lat, 95)} ms, p99 ${percentile(lat, 99)} ms`,
      );
      await stop();

      // 3. auth.requestPasswordReset: existing vs unknown addresses, interleaved.
      const existing: string[] = [];
      for (let i = 0; i < 40; i++) {
        const email = `reset${i}-${Date.now()}@bench.test`;
        await registerUser(server, {
          email,
          password: 'a long enough password',
          name: 'R',
          acceptPrivacyNotice: NOTICE,
        });
        existing.push(email);
      }
      const time = async (email: string, i: number) => {
        const t = performance.now();
        const res = await fetch(`${server.url}/api/auth/requestPasswordReset`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-forwarded-for': `10.9.${Math.floor(i / 200)}.${i % 200}`,
          },
          body: JSON.stringify({ email }),
        });
        await res.text();
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        return performance.now() - t;
      };
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < 40; i++) {
        a.push(await time(existing[i]!, 2 * i));
        b.push(await time(`unknown${i}-${Date.now()}@bench.test`, 2 * i + 1));
      }
      const f = (v: number[]) =>
        `p50 ${percentile(v, 50).toFixed(2)} ms, p90 ${percentile(v, 90).toFixed(2)} ms`;
      console.log(`[${kind}] requestPasswordReset existing: ${f(a)}; unknown: ${f(b)}`);
      expect(lat.length).toBe(1000);
    } finally {
      await server.close();
      await mail.dispose();
    }
  },
  900_000,
);
