// Issue 15: every procedure that shows one person's health data to someone else writes an
// access entry (actor, the person as target, ip, request id) in the statement that reads,
// so the statement counts stay what they were; refused reads leave none; the person sees
// the accesses in privacy.accessLog (name and role only), and nobody else's; admin.audit.list
// answers "who read this patient's notes this month" in one call; the audit log is
// append-only (UPDATE/DELETE/TRUNCATE refused) except through purge_audit_log and
// scrub_audit_log.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { auditRetentionJob, JobRunner } from '../server/jobs/index.ts';
import { ACCESS_ACTIONS } from '../shared/audit.ts';
import { createUser, expectError, measure, slot, type TestUser } from './fixtures/domain.ts';
import { callerFor, createTestDeps, DB_KINDS } from './helpers.ts';
import { startTestServer, type TestServer, TRPC_PATHS, trpcInput } from './server.ts';

const accessEntry = z.object({
  actor_id: z.string().nullable(),
  target_id: z.string().nullable(),
  ip: z.string().nullable(),
  request_id: z.string().nullable(),
  details: z.unknown(),
});

describe.each(DB_KINDS)('audited reads on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  let patient: TestUser;
  let otherPatient: TestUser;
  let therapist: TestUser;
  let otherTherapist: TestUser;
  let admin: TestUser;
  let hour = 30;

  /** The access entries of `action` written since entry id `since`. */
  const entriesSince = (action: string, since: number) =>
    queryRows(
      deps.db,
      accessEntry,
      sql`SELECT actor_id, target_id, ip, request_id, details FROM audit_log
          WHERE action = ${action} AND id > ${since} ORDER BY id`,
    );
  const lastId = async () =>
    (await queryRows(deps.db, countRow, sql`SELECT coalesce(max(id), 0) AS n FROM audit_log`))[0]!.n;
  const req = () => ({ ip: '10.1.2.3', requestId: `req-${randomUUID()}` });

  /** A session of `p` with `therapist`, with one note. */
  async function sessionWithNote(p: TestUser) {
    hour += 1;
    const session = await callerFor(deps, p.claims).therapy.book({
      therapistId: therapist.id,
      startsAt: slot(hour),
    });
    await callerFor(deps, therapist.claims).therapy.addNote({ sessionId: session.id, note: 'slept badly' });
    return session.id;
  }
  /** A PHQ-9 whose item 9 raises a crisis alert for `p`. */
  const raiseAlert = (p: TestUser) =>
    callerFor(deps, p.claims).assessments.submit({
      instrument: 'PHQ9',
      answers: [1, 1, 1, 1, 1, 1, 1, 1, 1],
    });

  beforeAll(async () => {
    deps = await createTestDeps(kind);
    patient = await createUser(deps.db, { plan: 'basic', name: 'Asha Patient' });
    otherPatient = await createUser(deps.db, { plan: 'basic', name: 'Ravi Patient' });
    therapist = await createUser(deps.db, { role: 'therapist', name: 'Dr Mehta' });
    otherTherapist = await createUser(deps.db, { role: 'therapist', name: 'Dr Other' });
    admin = await createUser(deps.db, { role: 'admin', name: 'Ops Admin' });
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  describe('therapy.notes', () => {
    it("the session's therapist reads: one statement, one entry about the patient with ip and request id", async () => {
      const sessionId = await sessionWithNote(patient);
      const since = await lastId();
      const r = req();
      const { result, queries } = await measure(() =>
        callerFor(deps, therapist.claims, r).therapy.notes({ sessionId }),
      );
      expect(queries).toBe(1);
      expect(result.notes.map((n) => n.note)).toEqual(['slept badly']);
      expect(await entriesSince('therapy.notes', since)).toEqual([
        {
          actor_id: therapist.id,
          target_id: patient.id,
          ip: r.ip,
          request_id: r.requestId,
          details: { sessionId },
        },
      ]);
    });

    it('a refused read (another therapist, the patient, anonymous, unknown session) leaves no entry', async () => {
      const sessionId = await sessionWithNote(patient);
      const since = await lastId();
      const { queries } = await measure(() =>
        expectError(callerFor(deps, otherTherapist.claims).therapy.notes({ sessionId }), 'FORBIDDEN'),
      );
      expect(queries).toBe(1);
      await expectError(callerFor(deps, patient.claims).therapy.notes({ sessionId }), 'FORBIDDEN');
      await expectError(callerFor(deps, null).therapy.notes({ sessionId }), 'UNAUTHORIZED');
      await expectError(
        callerFor(deps, therapist.claims).therapy.notes({ sessionId: randomUUID() }),
        'NOT_FOUND',
      );
      expect(await entriesSince('therapy.notes', since)).toEqual([]);
    });

    it('a session without notes shows nothing and writes nothing', async () => {
      hour += 1;
      const session = await callerFor(deps, patient.claims).therapy.book({
        therapistId: therapist.id,
        startsAt: slot(hour),
      });
      const since = await lastId();
      const { result, queries } = await measure(() =>
        callerFor(deps, therapist.claims).therapy.notes({ sessionId: session.id }),
      );
      expect(queries).toBe(1);
      expect(result.notes).toEqual([]);
      expect(await entriesSince('therapy.notes', since)).toEqual([]);
    });
  });

  describe('crisis.list', () => {
    it('one statement; one entry per patient shown (not per alert, not for the row past the page)', async () => {
      // One open alert per patient (clinical rules): a screening raises a new alert only once
      // the patient's open one was acknowledged, so acknowledge before each.
      const acknowledgeOpen = async () => {
        const open = await callerFor(deps, therapist.claims).crisis.list({ status: 'open', limit: 100 });
        for (const a of open.items)
          await callerFor(deps, therapist.claims).crisis.acknowledge({ alertId: a.id });
      };
      await acknowledgeOpen();
      await raiseAlert(otherPatient); // oldest: on the second page of 3
      await raiseAlert(patient);
      await acknowledgeOpen();
      await raiseAlert(patient);
      await raiseAlert(otherPatient);
      const since = await lastId();
      const r = req();
      const { result, queries } = await measure(() =>
        callerFor(deps, therapist.claims, r).crisis.list({ limit: 3 }),
      );
      expect(queries).toBe(1);
      expect(result.items).toHaveLength(3);
      const shown = result.items.map((a) => a.patient.id);
      const entries = await entriesSince('crisis.list', since);
      expect(entries.map((e) => e.target_id).sort()).toEqual([...new Set(shown)].sort());
      for (const e of entries) {
        expect(e).toMatchObject({ actor_id: therapist.id, ip: r.ip, request_id: r.requestId });
        const ids = result.items.filter((a) => a.patient.id === e.target_id).map((a) => a.id);
        expect((e.details as { alertIds: string[] }).alertIds.sort()).toEqual(ids.sort());
      }
    });

    it('an empty page writes nothing; a refused read writes nothing', async () => {
      const since = await lastId();
      const far = Buffer.from(JSON.stringify(['1970-01-01T00:00:00.000000Z', randomUUID()])).toString(
        'base64url',
      );
      const empty = await callerFor(deps, therapist.claims).crisis.list({ cursor: far });
      expect(empty.items).toEqual([]);
      await expectError(callerFor(deps, patient.claims).crisis.list(), 'FORBIDDEN');
      expect(await entriesSince('crisis.list', since)).toEqual([]);
    });
  });

  describe('admin.users.get', () => {
    it('one statement; one entry about the user viewed', async () => {
      const since = await lastId();
      const r = req();
      const { result, queries } = await measure(() =>
        callerFor(deps, admin.claims, r).admin.users.get({ userId: patient.id }),
      );
      expect(queries).toBe(1);
      expect(result.id).toBe(patient.id);
      expect(await entriesSince('admin.users.get', since)).toEqual([
        { actor_id: admin.id, target_id: patient.id, ip: r.ip, request_id: r.requestId, details: null },
      ]);
    });

    it('no entry for an unknown user, a caller without users.read, or an admin viewing themself', async () => {
      const since = await lastId();
      await expectError(callerFor(deps, admin.claims).admin.users.get({ userId: randomUUID() }), 'NOT_FOUND');
      await expectError(
        callerFor(deps, therapist.claims).admin.users.get({ userId: patient.id }),
        'FORBIDDEN',
      );
      await callerFor(deps, admin.claims).admin.users.get({ userId: admin.id });
      expect(await entriesSince('admin.users.get', since)).toEqual([]);
    });
  });

  describe('privacy.accessLog', () => {
    it('shows the patient who read what, newest first, name and role only, in keyset pages', async () => {
      const reader = await createUser(deps.db, { plan: 'basic', name: 'Log Reader' });
      const sessionId = await sessionWithNote(reader);
      await callerFor(deps, therapist.claims).therapy.notes({ sessionId });
      await callerFor(deps, admin.claims).admin.users.get({ userId: reader.id });
      await raiseAlert(reader);
      await callerFor(deps, therapist.claims).crisis.list({ status: 'open', limit: 100 });

      const me = callerFor(deps, reader.claims);
      const { result: first, queries } = await measure(() => me.privacy.accessLog({ limit: 2 }));
      expect(queries).toBe(1);
      const second = await me.privacy.accessLog({ limit: 2, cursor: first.nextCursor! });
      expect(second.nextCursor).toBeNull();
      const all = [...first.items, ...second.items];
      expect(all.map((e) => [e.via, e.data, e.by])).toEqual([
        ['crisis.list', 'crisis_alert', { name: 'Dr Mehta', role: 'therapist' }],
        ['admin.users.get', 'account', { name: 'Ops Admin', role: 'admin' }],
        ['therapy.notes', 'session_notes', { name: 'Dr Mehta', role: 'therapist' }],
      ]);
      expect(all[0]!.at.getTime()).toBeGreaterThanOrEqual(all[2]!.at.getTime());
      // Nothing that identifies or reaches the staff member beyond name and role.
      const text = JSON.stringify(all);
      for (const secret of [therapist.email, admin.email, therapist.id, admin.id, '10.1.2.3'])
        expect(text).not.toContain(secret);
      // Their own actions are not accesses by someone else.
      expect(all.every((e) => e.via in ACCESS_ACTIONS)).toBe(true);
    });

    it("a patient never sees another patient's log; no feature or permission is needed", async () => {
      const sessionId = await sessionWithNote(otherPatient);
      await callerFor(deps, therapist.claims).therapy.notes({ sessionId });
      const loner = await createUser(deps.db, { plan: 'free', name: 'No Access Yet' });
      const mine = await callerFor(deps, loner.claims).privacy.accessLog();
      expect(mine).toEqual({ items: [], nextCursor: null });
      const theirs = await callerFor(deps, otherPatient.claims).privacy.accessLog({ limit: 100 });
      expect(theirs.items.length).toBeGreaterThan(0);
      // The input has no way to name another person.
      await expectError(
        callerFor(deps, loner.claims).privacy.accessLog({ userId: otherPatient.id } as never),
        'BAD_REQUEST',
      );
      await expectError(callerFor(deps, null).privacy.accessLog(), 'UNAUTHORIZED');
    });
  });

  describe('admin.audit.list', () => {
    it("answers who read this patient's notes this month in one call", async () => {
      const sessionId = await sessionWithNote(patient);
      await callerFor(deps, therapist.claims).therapy.notes({ sessionId });
      const monthStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
      const { result, queries } = await measure(() =>
        callerFor(deps, admin.claims).admin.audit.list({
          targetId: patient.id,
          action: 'therapy.notes',
          from: monthStart,
          limit: 100,
        }),
      );
      expect(queries).toBe(1);
      expect(result.items.length).toBeGreaterThan(0);
      expect(
        result.items.every((e) => e.actorId === therapist.id && e.action === 'therapy.notes' && e.requestId),
      ).toBe(true);
      const reads = await callerFor(deps, admin.claims).admin.audit.list({
        targetId: patient.id,
        reads: true,
        limit: 100,
      });
      expect(new Set(reads.items.map((e) => e.action))).toEqual(
        new Set(['therapy.notes', 'crisis.list', 'admin.users.get']),
      );
    });
  });

  describe('the audit log is append-only', () => {
    it('refuses UPDATE, DELETE and TRUNCATE of audit_log', async () => {
      const before = await lastId();
      await expect(
        deps.db.execute(sql`UPDATE audit_log SET ip = '1.1.1.1' WHERE id = ${before}`),
      ).rejects.toThrow();
      await expect(deps.db.execute(sql`DELETE FROM audit_log WHERE id = ${before}`)).rejects.toThrow();
      await expect(deps.db.execute(sql`TRUNCATE audit_log`)).rejects.toThrow();
      expect(await lastId()).toBe(before);
    });

    it('the retention job purges old entries through purge_audit_log; the setting does not leak', async () => {
      await deps.db.execute(
        sql`INSERT INTO audit_log (at, action, target_id) VALUES (now() - interval '1 day' * ${deps.config.AUDIT_RETENTION_DAYS + 10}, 'therapy.notes', ${patient.id})`,
      );
      const jobs = new JobRunner({
        config: deps.config,
        database: deps.database,
        log: deps.log,
        revocations: deps.revocations,
      });
      expect(await jobs.run(auditRetentionJob)).toMatchObject({
        outcome: 'ran',
        detail: { deleted: 1, retentionDays: deps.config.AUDIT_RETENTION_DAYS },
      });
      const [old] = await queryRows(
        deps.db,
        countRow,
        sql`SELECT count(*) AS n FROM audit_log WHERE at < now() - make_interval(days => ${deps.config.AUDIT_RETENTION_DAYS})`,
      );
      expect(old!.n).toBe(0);
      // After the function, the same session still may not delete.
      await expect(deps.db.execute(sql`DELETE FROM audit_log WHERE at < now()`)).rejects.toThrow();
    });
  });
});

describe.each(TRPC_PATHS)('audited reads over HTTP on the %s path', (trpcPath) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ trpcPath });
  });
  afterAll(() => server?.close());

  it("records the caller's request id (X-Request-Id) and address with the read", async () => {
    const db = server.deps.db;
    const admin = await createUser(db, { role: 'admin' });
    const patient = await createUser(db);
    const { token } = await server.deps.tokens.sign(
      {
        id: admin.id,
        email: admin.email,
        role: admin.role,
        privilegeLevel: admin.claims.privilegeLevel,
        permissions: admin.claims.permissions,
        features: admin.claims.features,
        plan: admin.plan,
        privacyNotice: admin.claims.privacyNotice,
        // Signed in with a passkey just now: staff need a second factor (docs/api.md).
        amr: ['pwd', 'hwk', 'mfa'],
        auth_time: Math.floor(Date.now() / 1000),
      },
      randomUUID(),
    );
    const requestId = `trace-${randomUUID()}`;
    const res = await fetch(
      `${server.url}/trpc/admin.users.get?input=${encodeURIComponent(trpcInput({ userId: patient.id }))}`,
      { headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId } },
    );
    expect(res.status).toBe(200);
    expect(
      await queryRows(
        db,
        accessEntry,
        sql`SELECT actor_id, target_id, ip, request_id, details FROM audit_log WHERE action = 'admin.users.get'`,
      ),
    ).toEqual([
      { actor_id: admin.id, target_id: patient.id, ip: '127.0.0.1', request_id: requestId, details: null },
    ]);
  });
});
