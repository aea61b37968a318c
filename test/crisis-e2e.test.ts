// Issue 27, "done when", over HTTP with two API hosts sharing PostgreSQL and Redis and a
// real SMTP server (test/support/mail.ts): a patient submits a PHQ-9 with item 9 > 0 on
// host A; a staff subscriber on host B receives the event within 1 s; the on-call
// clinician's email is read from the SMTP server; with no acknowledgement the escalation
// email reaches the admins after the (shortened) interval; acknowledging ends the escalation
// and every subscriber, on either host, sees it. Nothing reaches the patient's address.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createDatabase, queryRows } from '../db/client.ts';
import { buildServer } from '../server/app.ts';
import { closeDeps, createDeps, createLogger } from '../server/create-services.ts';
import { startQueueWorkers } from '../server/jobs/workers.ts';
import { alertRef } from '../server/notify/email.ts';
import { ADMIN, ADMIN_ENV, account, adminAccount } from './accounts.ts';
import { REAL_DATABASE_URL, REAL_REDIS_URL } from './helpers.ts';
import { startTestServer, type TestServer } from './server.ts';
import { subscribeCrisis } from './support/live.ts';
import { type MailServer, startMailServer } from './support/mail.ts';

const CRISIS = [1, 1, 1, 1, 1, 1, 1, 1, 2];
/** The escalation interval of this test: 6 s (0.1 min). */
const AFTER_MINUTES = 0.1;
const AFTER_MS = AFTER_MINUTES * 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!REAL_DATABASE_URL || !REAL_REDIS_URL)(
  'a crisis reaches a person (two hosts, real SMTP)',
  () => {
    let mail: MailServer;
    let a: TestServer;
    let bUrl: string;
    let closeB: () => Promise<void>;
    let stopWorkers: () => Promise<void>;

    beforeAll(async () => {
      mail = await startMailServer();
      a = await startTestServer({
        kind: 'postgres',
        env: {
          ...ADMIN_ENV,
          ...mail.env,
          REDIS_URL: REAL_REDIS_URL!,
          JWT_ISSUER: `m360-${randomBytes(4).toString('hex')}`,
          JOBS_ENABLED: 'true',
          QUEUE_POLL_SECONDS: '0.5',
          CRISIS_ESCALATE_AFTER_MINUTES: String(AFTER_MINUTES),
          CRISIS_ESCALATION_CHECK_MS: '250',
        },
      });
      stopWorkers = await startQueueWorkers(a.deps);
      // Host B: another API process on the same database, Redis and configuration (it checks
      // for due alerts too: each alert is still notified and escalated once).
      const url = (a.deps.database as { url?: string }).url!;
      const deps = await createDeps(a.deps.config, {
        database: await createDatabase({ url, poolMax: 5 }),
        log: createLogger(a.deps.config),
      });
      const app = await buildServer(deps);
      await app.listen({ host: '127.0.0.1', port: 0 });
      bUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      closeB = async () => {
        const closing = app.close();
        app.server.closeAllConnections();
        await closing;
        await closeDeps(deps);
      };
    }, 120_000);
    afterAll(async () => {
      await closeB?.();
      await stopWorkers?.();
      await a?.close();
      await mail?.dispose();
    });

    it('notifies on call at once, streams to both hosts, escalates to the admins, and acknowledging ends it', async () => {
      const clinician = await account(a, 'free', 'therapist');
      const otherAdmin = await account(a, 'free', 'admin');
      const root = await adminAccount(a);
      await clinician.api.crisis.onCall.set.mutate({ endsAt: new Date(Date.now() + 3_600_000) });
      const patient = await account(a, 'free');

      const onB = subscribeCrisis(bUrl, clinician.token);
      const onA = subscribeCrisis(a.url, root.token);
      try {
        await onB.started();
        await onA.started();

        const sent = performance.now();
        const result = await patient.api.assessments.submit.mutate({ instrument: 'PHQ9', answers: CRISIS });
        expect(result.crisis).toBe(true);
        const raised = await onB.next((e) => e.kind === 'raised' && e.patientId === patient.id);
        const delay = raised.receivedAt - sent;
        console.log(`[crisis-e2e] submit on A → subscriber on B: ${delay.toFixed(1)} ms`);
        expect(delay).toBeLessThan(1000);
        const alertId = raised.alertId!;
        await onA.next((e) => e.kind === 'raised' && e.alertId === alertId);

        // The on-call clinician's email, from the SMTP server.
        const ref = alertRef(alertId);
        const isNotice = (x: { to: string[]; subject: string }, to: string) =>
          x.to.includes(to) && x.subject.includes(`alert ${ref}`);
        const toClinician = (
          await mail.waitFor((m) => m.some((x) => isNotice(x, clinician.email)), 30_000)
        ).find((x) => isNotice(x, clinician.email))!;
        expect(toClinician.subject).toContain(`crisis alert: a patient needs contact (alert ${ref})`);
        expect(toClinician.text).toContain('You are on call');
        expect(toClinician.text).not.toContain(patient.email);

        // No acknowledgement: escalated to every admin after the interval (level 1 event too).
        const escalated = await onB.next((e) => e.kind === 'escalated' && e.alertId === alertId, 30_000);
        expect(escalated.level).toBe(1);
        expect(escalated.at.getTime() - raised.at.getTime()).toBeGreaterThanOrEqual(AFTER_MS - 50);
        // Acknowledged now, before the second interval ends.
        await clinician.api.crisis.acknowledge.mutate({ alertId });
        const ackB = await onB.next((e) => e.kind === 'acknowledged' && e.alertId === alertId);
        const ackA = await onA.next((e) => e.kind === 'acknowledged' && e.alertId === alertId);
        expect(ackB.actor?.id).toBe(clinician.id);
        expect(ackA.id).toBe(ackB.id);

        const admins = [ADMIN.email, otherAdmin.email];
        const all = await mail.waitFor(
          (m) => admins.every((to) => m.some((x) => x.to.includes(to) && x.subject.includes(`alert ${ref}`))),
          30_000,
        );
        for (const to of admins) {
          const m = all.find((x) => x.to.includes(to) && x.subject.includes(`alert ${ref}`))!;
          expect(m.subject).toMatch(/^Escalated: MANAS360 crisis alert/);
          expect(m.text).toContain('escalation 1 of 2');
        }

        // Past the second interval: no second escalation for an acknowledged alert.
        const since = Date.now() - raised.at.getTime();
        await sleep(Math.max(0, 2 * AFTER_MS - since) + 1500);
        const [state] = await queryRows(
          a.deps.db,
          z.object({ level: z.number(), status: z.string() }),
          sql`SELECT escalation_level::int AS level, status FROM crisis_alerts WHERE id = ${alertId}`,
        );
        expect(state).toEqual({ level: 1, status: 'acknowledged' });
        expect(onB.events.filter((e) => e.alertId === alertId).map((e) => e.kind)).toEqual([
          'raised',
          'escalated',
          'acknowledged',
        ]);
        const final = await mail.messages();
        expect(
          final.filter((x) => x.subject.includes(`alert ${ref}`) && x.text.includes('escalation 2')),
        ).toEqual([]);
        // Exactly one notice per recipient and step, though both hosts checked.
        expect(final.filter((x) => x.to.includes(clinician.email) && x.subject.includes(ref))).toHaveLength(
          1,
        );
        // Nothing about the alert went to the patient (who gets only their account's own
        // emails, such as the address verification).
        expect(
          final.filter(
            (x) => x.to.includes(patient.email) && /crisis|alert|escalat/i.test(x.subject + x.text),
          ),
        ).toEqual([]);
      } finally {
        onA.close();
        onB.close();
      }
    }, 120_000);
  },
);
