// Privacy rights end to end over HTTP: consent to the privacy notice (required at
// registration, carried in the token, asked again for a new version, gated with zero
// queries), and erasure (password re-entered, cancellable grace period, then the job:
// data key destroyed so notes are unreadable, personal data deleted or anonymised, every
// token dead, upcoming sessions cancelled, a tombstone without personal data in the audit log).
import { TRPCClientError } from '@trpc/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countQueries, queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { NoteDecryptError, openWithDataKey } from '../server/crypto/notes.ts';
import { RAZORPAY_WEBHOOK_PATH } from '../server/http/webhooks.ts';
import { accountErasureJob, JobRunner, viewRefreshJob } from '../server/jobs/index.ts';
import { createUser } from './fixtures/domain.ts';
import { callerFor, DB_KINDS, NOTICE } from './helpers.ts';
import { RazorpayDouble } from './razorpay-double.ts';
import { enrolPasskey, registerUser, startTestServer, type TestServer, trpcInput } from './server.ts';

const PASSWORD = 'correct horse battery';
let seq = 0;

async function failure(p: Promise<unknown>): Promise<{ code: string; reason?: string; required?: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TRPCClientError) return err.data;
    throw err;
  }
  throw new Error('expected the call to fail');
}

function nextWholeHour(hoursAhead: number): Date {
  const d = new Date(Date.now() + hoursAhead * 3_600_000);
  d.setUTCMinutes(0, 0, 0);
  return d;
}

/**
 * Where an account's personal data lives, and what erasure does to it: every column that
 * references users (read from the catalog, so a new table fails this test until it gets a
 * rule here, in server/domain/privacy.ts and in docs/decisions/privacy-rights.md).
 * deleted: no row of the erased account is left; kept: rows stay, pointing at the
 * anonymised account (the documented retention rule).
 */
const ERASURE_RULES: Record<string, 'deleted' | 'kept'> = {
  'account_tokens.user_id': 'deleted', // reset and confirmation links
  'api_keys.user_id': 'deleted',
  'assessments.user_id': 'deleted',
  'crisis_alerts.user_id': 'deleted',
  'crisis_alerts.acknowledged_by': 'kept', // a staff member's act on someone else's alert
  'crisis_on_call.user_id': 'deleted',
  'idempotency_keys.user_id': 'deleted', // stored answers of their mutations
  'mfa_factors.user_id': 'deleted',
  'mfa_recovery_codes.user_id': 'deleted',
  'mood_entries.user_id': 'deleted',
  'payment_orders.user_id': 'kept', // financial records
  'privacy_consents.user_id': 'deleted',
  'refresh_tokens.user_id': 'deleted',
  'session_notes.author_id': 'kept', // a therapist's notes, sealed with their patients' keys
  'subscriptions.user_id': 'deleted',
  // Deleted with their own tickets; replies written as staff in others' tickets stay.
  'support_messages.author_id': 'deleted',
  'support_tickets.user_id': 'deleted',
  'therapist_profiles.user_id': 'deleted',
  'therapy_sessions.patient_id': 'kept', // past sessions; upcoming ones are cancelled
  'therapy_sessions.therapist_id': 'kept',
  'user_data_keys.user_id': 'deleted',
};

describe.each(DB_KINDS)('privacy rights on %s (HTTP)', (kind) => {
  let rzp: RazorpayDouble;
  let server: TestServer;
  beforeAll(async () => {
    rzp = await new RazorpayDouble().start();
    // Grace period 0: a scheduled erasure is due at once (the job decides when it runs).
    server = await startTestServer({ kind, env: { ...rzp.env, ACCOUNT_DELETION_GRACE_HOURS: '0' } });
  });
  afterAll(async () => {
    await server?.close();
    await rzp?.close();
  });

  const email = () => `priv${seq++}.${Date.now().toString(36)}@example.com`;
  const register = (input: Record<string, unknown>) =>
    fetch(`${server.url}/trpc/auth.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.${seq}.1` },
      body: trpcInput(input),
    });
  const count = async (query: ReturnType<typeof sql>) =>
    (await queryRows(server.deps.db, countRow, query))[0]!.n;

  it('registration requires the current notice, records it and puts it in the token', async () => {
    const base = { email: email(), password: PASSWORD, name: 'Consenting' };
    const users = () => count(sql`SELECT count(*)::int AS n FROM users WHERE email = ${base.email}`);
    const missing = await register(base);
    expect(missing.status).toBe(400);
    expect(JSON.stringify(await missing.json())).toContain('acceptPrivacyNotice');
    expect((await register({ ...base, acceptPrivacyNotice: '2020-01-01' })).status).toBe(400);
    expect(await users()).toBe(0);

    const { version } = await server.client().privacy.notice.query();
    expect(version).toBe(NOTICE);
    const reg = await registerUser(server, { ...base, acceptPrivacyNotice: version });
    const api = server.client(reg.accessToken);
    expect(await api.auth.me.query()).toMatchObject({ privacyNotice: NOTICE });
    const status = await api.privacy.status.query();
    expect(status).toMatchObject({ currentNotice: NOTICE, acceptedNotice: NOTICE, deletionDueAt: null });
    expect(Date.now() - status.acceptedAt!.getTime()).toBeLessThan(60_000);
    expect(await api.mood.log.mutate({ score: 6 })).toMatchObject({ score: 6 });
  });

  it('a new notice version asks again: other procedures refuse until it is accepted', async () => {
    const reg = await registerUser(server, {
      email: email(),
      password: PASSWORD,
      name: 'Asked again',
      acceptPrivacyNotice: NOTICE,
    });
    const config = server.deps.config;
    // A release with a new notice (config is read per request).
    server.deps.config = { ...config, PRIVACY_NOTICE_VERSION: '2027-01-01' };
    try {
      const old = server.client(reg.accessToken);
      expect(await failure(old.mood.list.query({}))).toMatchObject({
        code: 'FORBIDDEN',
        reason: 'privacy_notice_required',
        required: '2027-01-01',
      });
      // auth.* and privacy.* still answer; accepting an outdated version does not count.
      expect(await old.auth.me.query()).toMatchObject({ privacyNotice: NOTICE });
      expect(await failure(old.privacy.acceptNotice.mutate({ version: NOTICE }))).toMatchObject({
        code: 'BAD_REQUEST',
      });
      const accepted = await old.privacy.acceptNotice.mutate({ version: '2027-01-01' });
      const renewed = server.client(accepted.accessToken);
      expect((await renewed.mood.list.query({})).items).toEqual([]);
      // A refresh reads the acceptance from the table too.
      const pair = await server.client().auth.refresh.mutate({ refreshToken: reg.refreshToken });
      expect(await server.client(pair.accessToken).auth.me.query()).toMatchObject({
        privacyNotice: '2027-01-01',
      });
      expect(
        await count(sql`SELECT count(*)::int AS n FROM privacy_consents WHERE user_id = ${reg.user.id}`),
      ).toBe(2);
    } finally {
      server.deps.config = config;
    }
  });

  it('the consent gate makes no query; the new procedures make their promised counts', async () => {
    const user = await createUser(server.deps.db);
    const { privacyNotice: _, ...unconsented } = user.claims;
    const gated = await countQueries(() =>
      callerFor(server.deps, unconsented)
        .mood.list({})
        .catch((e) => e),
    );
    expect(gated.result).toMatchObject({ code: 'FORBIDDEN' });
    expect(gated.queries).toBe(0);
    const caller = callerFor(server.deps, user.claims);
    expect((await countQueries(() => caller.privacy.notice())).queries).toBe(0);
    expect((await countQueries(() => caller.privacy.status())).queries).toBe(1);
    expect((await countQueries(() => caller.privacy.acceptNotice({ version: NOTICE }))).queries).toBe(1);
    const hash = await server.deps.passwords.hash(PASSWORD);
    await server.deps.db.execute(sql`UPDATE users SET password_hash = ${hash} WHERE id = ${user.id}`);
    // The schedule and its email job (erasureScheduled) in one transaction.
    expect((await countQueries(() => caller.privacy.deleteAccount({ password: PASSWORD }))).queries).toBe(3);
    expect((await countQueries(() => caller.privacy.cancelDeletion())).queries).toBe(2);
  });

  it('erasure: scheduled with the password, cancellable, then the job erases everything personal', async () => {
    const db = server.deps.db;
    // A therapist, and an admin who moves the patient to Basic (for booking).
    const therapist = await createUser(db, { role: 'therapist', profile: { specializations: ['anxiety'] } });
    const therapistApi = server.client(
      (await server.deps.tokens.sign({ ...therapist.claims, id: therapist.id }, therapist.claims.sid)).token,
    );
    const admin = await createUser(db, { role: 'admin' });
    const patientEmail = email();
    const reg = await registerUser(server, {
      email: patientEmail,
      password: PASSWORD,
      name: 'Erin Erased',
      acceptPrivacyNotice: NOTICE,
    });
    const id = reg.user.id;
    // The address confirmed (payments need it; the link is tested in account-email.test.ts):
    // the refreshed token carries the claim.
    await db.execute(sql`UPDATE users SET email_verified_at = now() WHERE id = ${id}`);
    const confirmed = await server.client().auth.refresh.mutate({ refreshToken: reg.refreshToken });
    // Enterprise bought over HTTP: an order at the provider (double), then its signed webhook.
    const order = await server
      .client(confirmed.accessToken)
      .subscriptions.checkout.mutate({ planCode: 'enterprise' });
    const paid = await rzp.deliver(`${server.url}${RAZORPAY_WEBHOOK_PATH}`, rzp.pay(order.orderId).captured);
    expect(paid.status).toBe(200);
    const pair = await server.client().auth.refresh.mutate({ refreshToken: confirmed.refreshToken });
    const session = { access: pair.accessToken, refresh: pair.refreshToken };
    const api = server.client(() => session.access);

    // Personal and health data of every kind.
    await api.mood.log.mutate({ score: 3, note: 'a hard week', tags: ['work'] });
    await api.assessments.submit.mutate({ instrument: 'PHQ9', answers: [2, 2, 2, 2, 2, 2, 2, 2, 1] });
    const past = await api.therapy.book.mutate({ therapistId: therapist.id, startsAt: nextWholeHour(3) });
    const upcoming = await api.therapy.book.mutate({ therapistId: therapist.id, startsAt: nextWholeHour(5) });
    await therapistApi.therapy.addNote.mutate({
      sessionId: past.id,
      note: 'Erin spoke about her panic attacks',
    });
    // A note from before per-user keys: sealed with the notes key itself.
    const legacy = server.deps.notes.seal('an older note about Erin', past.id);
    await db.execute(sql`INSERT INTO session_notes (session_id, author_id, key_id, ciphertext)
      VALUES (${past.id}, ${therapist.id}, ${legacy.keyId}, ${legacy.ciphertext})`);
    expect((await therapistApi.therapy.notes.query({ sessionId: past.id })).notes.map((n) => n.note)).toEqual(
      ['Erin spoke about her panic attacks', 'an older note about Erin'],
    );
    // A support ticket with the staff's reply and the patient's answer.
    const ticket = await api.support.create.mutate({ subject: 'Erin cannot sleep', body: 'Since March' });
    await callerFor(server.deps, admin.claims).support.reply({ ticketId: ticket.id, body: 'Hello Erin' });
    await api.support.reply.mutate({ ticketId: ticket.id, body: 'Thank you' });
    // An API key, already exchanged for a token.
    // Creating an API key needs a fresh second factor: Erin adds a passkey first.
    session.access = await enrolPasskey(server, session.access);
    const key = await api.apiKeys.create.mutate({ name: "Erin's laptop", scopes: ['mood.read'] });
    const viaKey = server.client(
      (await server.client().auth.exchangeApiKey.mutate({ apiKey: key.key })).accessToken,
    );
    expect((await viaKey.mood.list.query({})).items).toHaveLength(1);
    const [sealed] = await queryRows(
      db,
      z.object({ ciphertext: z.string(), wrapped: z.string(), key_id: z.string() }),
      sql`SELECT n.ciphertext, k.wrapped_key AS wrapped, k.key_id FROM session_notes n
          JOIN user_data_keys k ON k.user_id = ${id} WHERE n.session_id = ${past.id} AND n.patient_key`,
    );
    // The session becomes past (time moves) so it is kept; the other stays upcoming.
    await db.execute(
      sql`UPDATE therapy_sessions SET starts_at = starts_at - interval '1 day' WHERE id = ${past.id}`,
    );

    // The wrong password schedules nothing and counts as a failed login.
    expect(await failure(api.privacy.deleteAccount.mutate({ password: 'not my password' }))).toMatchObject({
      code: 'UNAUTHORIZED',
    });
    expect((await api.privacy.status.query()).deletionDueAt).toBeNull();
    // Scheduled, cancelled, scheduled again.
    const scheduled = await api.privacy.deleteAccount.mutate({ password: PASSWORD });
    expect(scheduled.deletionDueAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(await api.privacy.cancelDeletion.mutate()).toEqual({ ok: true });
    expect(await failure(api.privacy.cancelDeletion.mutate())).toMatchObject({ code: 'CONFLICT' });
    const jobs = new JobRunner(server.deps);
    expect((await jobs.run(accountErasureJob)).outcome).toBe('skipped_fresh');
    expect((await api.mood.list.query({})).items).toHaveLength(1);
    await api.privacy.deleteAccount.mutate({ password: PASSWORD });
    // A therapist leaves at the same time (their profile is theirs alone).
    const leaving = await createUser(db, { role: 'therapist', profile: { bio: 'Dr Leaving, Pune' } });
    await db.execute(sql`UPDATE users SET deletion_due_at = now() WHERE id = ${leaving.id}`);

    // The leaving therapist was on call; the patient's last keyed mutation kept its answer
    // (Idempotency-Key, tested in idempotency.test.ts).
    await db.execute(
      sql`INSERT INTO crisis_on_call (user_id, ends_at) VALUES (${leaving.id}, now() + interval '1 day')`,
    );
    await db.execute(
      sql`INSERT INTO idempotency_keys (user_id, key, procedure, request_hash, response, expires_at)
          VALUES (${id}, 'erasure-key', 'mood.log', 'hash', '{}', now() + interval '1 day')`,
    );

    // Every column that references an account has a rule; count what each holds now.
    const columns = await queryRows(
      db,
      z.object({ tbl: z.string(), col: z.string() }),
      sql`SELECT c.conrelid::regclass::text AS tbl, a.attname AS col
          FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
          WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass
            AND c.conparentid = 0`, // a partition's copy of its table's key is the table's
    );
    expect(columns.map((c) => `${c.tbl}.${c.col}`).sort()).toEqual(Object.keys(ERASURE_RULES).sort());
    const holdings = async () => {
      const held: Record<string, number> = {};
      for (const { tbl, col } of columns)
        held[`${tbl}.${col}`] = await count(
          sql`SELECT count(*)::int AS n FROM ${sql.identifier(tbl)}
              WHERE ${sql.identifier(col)} IN (${id}::uuid, ${leaving.id}::uuid)`,
        );
      return held;
    };
    const before = await holdings();
    const deleted = Object.keys(ERASURE_RULES).filter((c) => ERASURE_RULES[c] === 'deleted');
    // The test put data of every kind there (or it would prove nothing about that table).
    expect(deleted.filter((c) => before[c] === 0)).toEqual([]);
    expect(before['payment_orders.user_id']).toBe(1);

    expect(await jobs.run(accountErasureJob)).toMatchObject({ outcome: 'ran', detail: { erased: 2 } });
    const after = await holdings();
    for (const c of Object.keys(ERASURE_RULES))
      expect([c, after[c]]).toEqual([c, ERASURE_RULES[c] === 'deleted' ? 0 : before[c]]);
    expect(
      await count(sql`SELECT count(*)::int AS n FROM support_messages WHERE ticket_id = ${ticket.id}`),
    ).toBe(0);

    // Every token is dead at once; nothing logs in.
    expect(await failure(server.client(session.access).auth.me.query())).toMatchObject({
      code: 'UNAUTHORIZED',
    });
    expect(
      await failure(server.client().auth.refresh.mutate({ refreshToken: session.refresh })),
    ).toMatchObject({
      code: 'UNAUTHORIZED',
    });
    expect(
      await failure(server.client().auth.login.mutate({ email: patientEmail, password: PASSWORD })),
    ).toMatchObject({ code: 'UNAUTHORIZED' });
    // The API key's token is dead, and the key exchanges for nothing.
    expect(await failure(viaKey.mood.list.query({}))).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await failure(server.client().auth.exchangeApiKey.mutate({ apiKey: key.key }))).toMatchObject({
      code: 'UNAUTHORIZED',
    });

    // Personal data: anonymised or gone.
    const [user] = await queryRows(
      db,
      z.record(z.string(), z.unknown()),
      sql`SELECT email, name, phone, password_hash, deleted_at FROM users WHERE id = ${id}`,
    );
    expect(user).toMatchObject({ email: `erased-${id}@erased.invalid`, name: 'Deleted user', phone: null });
    expect(user!.deleted_at).not.toBeNull();

    // Notes: the data key is destroyed, so the ciphertext taken before erasure opens with
    // no key the database still holds; the rows are gone too.
    expect(
      server.deps.notes.unwrapDataKey(id, { keyId: sealed!.key_id, ciphertext: sealed!.wrapped }),
    ).toHaveLength(32);
    const keys = await queryRows(
      db,
      z.object({ user_id: z.string(), key_id: z.string(), wrapped_key: z.string() }),
      sql`SELECT user_id, key_id, wrapped_key FROM user_data_keys`,
    );
    for (const k of keys) {
      const other = server.deps.notes.unwrapDataKey(k.user_id, {
        keyId: k.key_id,
        ciphertext: k.wrapped_key,
      });
      expect(() => openWithDataKey(other, sealed!.ciphertext, past.id)).toThrow(NoteDecryptError);
    }
    expect(await count(sql`SELECT count(*)::int AS n FROM session_notes WHERE session_id = ${past.id}`)).toBe(
      0,
    );
    expect((await therapistApi.therapy.notes.query({ sessionId: past.id })).notes).toEqual([]);

    // Sessions: the upcoming one is cancelled (the slot is free again), the past one kept
    // for the therapist's records, pointing at the anonymised account.
    const schedule = await therapistApi.therapy.schedule.query({
      from: new Date(Date.now() - 2 * 86_400_000),
      includeCancelled: true,
    });
    const byId = new Map(schedule.items.map((s) => [s.id, s]));
    expect(byId.get(upcoming.id)).toMatchObject({ status: 'cancelled', patientName: 'Deleted user' });
    expect(byId.get(past.id)).toMatchObject({ status: 'booked', patientName: 'Deleted user' });

    // The audit log: a tombstone, and no personal data left about the account.
    const audit = await queryRows(
      db,
      z.object({ action: z.string(), ip: z.string().nullable(), details: z.unknown() }),
      sql`SELECT action, ip, details FROM audit_log WHERE target_id = ${id} OR actor_id = ${id} ORDER BY id`,
    );
    expect(audit.at(-1)).toMatchObject({
      action: 'privacy.accountErased',
      ip: null,
      details: { dataKeyDestroyed: true },
    });
    expect(audit.slice(0, -1).every((a) => a.ip === null && a.details === null)).toBe(true);
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['auth.register', 'privacy.deleteAccount', 'privacy.cancelDeletion']),
    );
    expect(
      await count(
        sql`SELECT count(*)::int AS n FROM audit_log WHERE audit_log::text ILIKE ${`%${patientEmail}%`} OR audit_log::text ILIKE '%Erin%'`,
      ),
    ).toBe(0);
    // No table or view holds the erased people's names, email or words any more, once the
    // views (which drop erased accounts) have had their scheduled refresh.
    await jobs.run(viewRefreshJob);
    const relations = await queryRows(
      db,
      z.object({ name: z.string() }),
      sql`SELECT relname AS name FROM pg_class
          WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'm') ORDER BY 1`,
    );
    expect(relations.map((r) => r.name)).toEqual(expect.arrayContaining(['mv_users_with_subscription']));
    const leftovers: string[] = [];
    for (const { name } of relations) {
      const t = sql.identifier(name);
      const n = await count(
        sql`SELECT count(*)::int AS n FROM ${t} WHERE ${t}::text ILIKE ${`%${patientEmail}%`}
            OR ${t}::text ILIKE '%Erin%' OR ${t}::text ILIKE '%Dr Leaving%' OR ${t}::text ILIKE '%laptop%'`,
      );
      if (n > 0) leftovers.push(`${name}: ${n}`);
    }
    expect(leftovers).toEqual([]);
    // Running again finds nothing to do.
    expect((await jobs.run(accountErasureJob)).outcome).toBe('skipped_fresh');
  });
});
