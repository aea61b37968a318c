// Registration that does not reveal membership (issue 32, finding 10; docs/decisions/
// registration-privacy.md), through in-process callers on each database: auth.register
// answers a new, a taken and a pending address alike, and no follow-up call (auth.me with
// anything the answer holds, auth.login with the registering password, a resend) tells
// them apart; a pending account cannot sign in until its link is followed; the latest
// registration of an address wins; unconfirmed ones are deleted by the clean-up job.
// (Accounts that did not register — bootstrap, seeding — stay active: test/auth-bootstrap.test.ts.)
// The same path over HTTP and a real SMTP server: test/account-email.test.ts.
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countQueries, queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { RevocationList } from '../server/auth/revocation.ts';
import { loadConfig } from '../server/config.ts';
import { processAccountJob } from '../server/domain/account-email.ts';
import { LOGIN_FAILED_MESSAGE } from '../server/domain/auth.ts';
import type { AccountJob } from '../server/domain/email-tokens.ts';
import { type EmailJob, linkContext } from '../server/email/outbox.ts';
import { JobRunner, pendingAccountCleanupJob } from '../server/jobs/index.ts';
import { authenticate } from '../server/trpc/context.ts';
import { errorOf } from './fixtures/domain.ts';
import { callerFor, callerRegister, createTestDeps, DB_KINDS, NOTICE } from './helpers.ts';

type Deps = Awaited<ReturnType<typeof createTestDeps>>;

const PASSWORD = 'the attacker password';
let seq = 0;
const uniqueEmail = (tag: string) => `${tag}.${Date.now().toString(36)}.${seq++}@example.com`;

/** Every string in an answer, however deep (tokens, ids: whatever a client could replay). */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}

describe.each(DB_KINDS)('registration privacy on %s', (kind) => {
  let deps: Deps;
  beforeAll(async () => {
    deps = await createTestDeps(kind);
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  const anon = () => callerFor(deps, null);
  const registerRaw = (email: string, password = PASSWORD, name = 'Attacker') =>
    anon().auth.register({ email, password, name, acceptPrivacyNotice: NOTICE });

  /** The emails queued to `to` (the `email` queue's jobs), oldest first, links opened. */
  async function emailsTo(to: string) {
    const rows = await queryRows(
      deps.db,
      z.object({ data: z.custom<EmailJob>() }),
      sql`SELECT data FROM pgboss.job WHERE name = 'email' AND data->>'to' = ${to} ORDER BY created_on, id`,
    );
    return rows.map(({ data }) => ({
      template: data.template,
      token: data.link ? deps.notes.open(data.link.token, linkContext(data.to)) : undefined,
    }));
  }

  /** Runs the `account` jobs queued for `email`, as the worker would (then removes them). */
  async function runAccountJobs(email: string) {
    const jobs = await queryRows(
      deps.db,
      z.object({ id: z.string(), data: z.custom<AccountJob>() }),
      sql`DELETE FROM pgboss.job WHERE name = 'account' AND data->>'email' = ${email} RETURNING id::text AS id, data`,
    );
    for (const job of jobs)
      await processAccountJob(deps, { id: job.id, name: 'account', data: job.data } as never);
    return jobs.map((j) => j.data.kind);
  }

  /** What an attacker observes: the answer, and every follow-up call's outcome. */
  async function observe(email: string) {
    const answer = await registerRaw(email);
    const me: string[] = [];
    for (const value of stringsIn(answer)) {
      const { auth } = await authenticate(deps, `Bearer ${value}`);
      if (!auth) {
        me.push('401');
        continue;
      }
      const res = await callerFor(deps, auth)
        .auth.me()
        .then(
          () => '200',
          () => '401',
        );
      me.push(res);
    }
    const login = await anon()
      .auth.login({ email, password: PASSWORD })
      .then(
        () => 'signed in',
        (err: { code?: string; message?: string }) => `${err.code}: ${err.message}`,
      );
    const resend = await anon().auth.resendConfirmation({ email });
    return {
      answer: { ...answer, email: answer.email === email ? '<the address>' : answer.email },
      me,
      login,
      resend,
    };
  }

  it('answers a new, a taken and a pending address identically, and no follow-up call tells them apart', async () => {
    const taken = uniqueEmail('taken');
    await callerRegister(deps, {
      email: taken,
      password: 'the owner password',
      name: 'Owner',
      acceptPrivacyNotice: NOTICE,
    });
    await deps.db.execute(sql`UPDATE users SET email_verified_at = now() WHERE email = ${taken}`);
    const pending = uniqueEmail('pending');
    await registerRaw(pending, 'an earlier password', 'Earlier');
    const fresh = uniqueEmail('new');

    const seen = await Promise.all([observe(fresh), observe(taken), observe(pending)]);
    expect(seen[0]).toEqual({
      answer: { email: '<the address>', confirmationSent: true },
      me: ['401'],
      login: `UNAUTHORIZED: ${LOGIN_FAILED_MESSAGE}`,
      resend: { ok: true },
    });
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    // The owner of the taken address is told (not the attacker); the new address gets a link.
    expect((await runAccountJobs(taken)).sort()).toEqual(['accountExists', 'resendConfirmation']);
    // (Its own registration's link, then "you already have an account"; no new link: confirmed.)
    expect((await emailsTo(taken)).map((m) => m.template)).toEqual(['verifyEmail', 'accountExists']);
    expect((await emailsTo(fresh)).map((m) => m.template)).toEqual(['verifyEmail']);
  });

  it('hashes the password and runs the same statements for a new and a taken address', async () => {
    const hashes: string[] = [];
    const original = deps.passwords;
    deps.passwords = {
      ...original,
      hash: (p) => {
        hashes.push(p);
        return original.hash(p);
      },
    };
    try {
      const taken = uniqueEmail('taken');
      await registerRaw(taken, 'the owner password');
      await deps.db.execute(sql`UPDATE users SET status = 'active' WHERE email = ${taken}`);
      const fresh = await countQueries(() => registerRaw(uniqueEmail('new')));
      const existing = await countQueries(() => registerRaw(taken));
      expect(hashes).toEqual(['the owner password', PASSWORD, PASSWORD]);
      // New: pending delete, insert, link, email. Taken: pending delete, insert (nothing), status read, job.
      expect(fresh.queries).toBe(4);
      expect(existing.queries).toBe(4);
    } finally {
      deps.passwords = original;
    }
  });

  it('a pending account signs in only after its link is followed; the link answers no session', async () => {
    const email = uniqueEmail('confirm');
    await registerRaw(email, 'the real owner password', 'Owner');
    const early = await errorOf(anon().auth.login({ email, password: 'the real owner password' }));
    expect([early.code, early.message]).toEqual(['UNAUTHORIZED', LOGIN_FAILED_MESSAGE]);
    const [link] = await emailsTo(email);
    expect(link?.template).toBe('verifyEmail');
    expect(await anon().auth.verifyEmail({ token: link!.token! })).toEqual({ ok: true });
    const login = await anon().auth.login({ email, password: 'the real owner password' });
    expect(login.user).toMatchObject({ email, name: 'Owner', role: 'patient', plan: 'free' });
    const { auth } = await authenticate(deps, `Bearer ${login.accessToken}`);
    expect(auth).toMatchObject({ emailVerified: true, privacyNotice: NOTICE });
    const [row] = await queryRows(
      deps.db,
      z.object({ status: z.string() }),
      sql`SELECT status FROM users WHERE email = ${email}`,
    );
    expect(row?.status).toBe('active');
    // The login failure before the confirmation was recorded as an unknown address's.
    const audit = await queryRows(
      deps.db,
      z.object({ reason: z.string().nullable() }),
      sql`SELECT details->>'reason' AS reason FROM audit_log WHERE action = 'auth.loginFailed' AND target_id IS NULL
          AND at > now() - interval '1 minute'`,
    );
    expect(audit.map((a) => a.reason)).toContain('unknown_email');
  });

  it('the latest registration of a pending address wins: the earlier link confirms nothing', async () => {
    const email = uniqueEmail('again');
    await registerRaw(email, 'the first password', 'First');
    const [first] = await emailsTo(email);
    const before = await queryRows(
      deps.db,
      z.object({ id: z.string() }),
      sql`SELECT id FROM users WHERE email = ${email}`,
    );
    await registerRaw(email, 'the second password', 'Second');
    const after = await queryRows(
      deps.db,
      z.object({ id: z.string(), name: z.string(), status: z.string() }),
      sql`SELECT id, name, status FROM users WHERE email = ${email}`,
    );
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ name: 'Second', status: 'pending' });
    expect(after[0]!.id).not.toBe(before[0]!.id);
    // The earlier registration's audit entries lost their IP (scrubbed with the row).
    const [scrubbed] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM audit_log WHERE target_id = ${before[0]!.id} AND ip IS NOT NULL`,
    );
    expect(scrubbed?.n).toBe(0);
    expect((await errorOf(anon().auth.verifyEmail({ token: first!.token! }))).code).toBe('BAD_REQUEST');
    const [, second] = await emailsTo(email);
    await anon().auth.verifyEmail({ token: second!.token! });
    await expect(anon().auth.login({ email, password: 'the first password' })).rejects.toThrow(
      LOGIN_FAILED_MESSAGE,
    );
    expect((await anon().auth.login({ email, password: 'the second password' })).user.name).toBe('Second');
  });

  it('concurrent registrations of one address leave one pending account, whose link is the last sent', async () => {
    const email = uniqueEmail('race');
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => registerRaw(email, `password number ${i}`, `Racer ${i}`)),
    );
    for (const a of answers) expect(a).toEqual({ email, confirmationSent: true });
    const rows = await queryRows(
      deps.db,
      z.object({ id: z.string(), status: z.string() }),
      sql`SELECT id, status FROM users WHERE lower(email) = ${email}`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('pending');
    // Exactly one link confirms (the survivor's); the others' accounts are gone.
    const outcomes = await Promise.all(
      (await emailsTo(email)).map((m) =>
        anon()
          .auth.verifyEmail({ token: m.token! })
          .then(
            () => 'ok',
            () => 'invalid',
          ),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
  });

  it('resends a link to a pending address (the earlier one ends) and to nobody else', async () => {
    const email = uniqueEmail('resend');
    await registerRaw(email, 'the real owner password');
    const verified = uniqueEmail('verified');
    await callerRegister(deps, {
      email: verified,
      password: PASSWORD,
      name: 'V',
      acceptPrivacyNotice: NOTICE,
    });
    await deps.db.execute(sql`UPDATE users SET email_verified_at = now() WHERE email = ${verified}`);
    const nobody = uniqueEmail('nobody');
    for (const address of [email, verified, nobody])
      expect(await anon().auth.resendConfirmation({ email: address })).toEqual({ ok: true });
    for (const address of [email, verified, nobody]) await runAccountJobs(address);
    const [first, second] = await emailsTo(email);
    expect(second?.template).toBe('verifyEmail');
    expect((await emailsTo(verified)).map((m) => m.template)).toEqual(['verifyEmail']); // registration's only
    expect(await emailsTo(nobody)).toEqual([]);
    expect((await errorOf(anon().auth.verifyEmail({ token: first!.token! }))).code).toBe('BAD_REQUEST');
    await anon().auth.verifyEmail({ token: second!.token! });
    await anon().auth.login({ email, password: 'the real owner password' });
  });

  it('deletes pending accounts older than PENDING_ACCOUNT_DAYS, and nothing else', async () => {
    const old = uniqueEmail('old');
    const recent = uniqueEmail('recent');
    const oldActive = uniqueEmail('oldactive');
    await registerRaw(old);
    await registerRaw(recent);
    await callerRegister(deps, {
      email: oldActive,
      password: PASSWORD,
      name: 'A',
      acceptPrivacyNotice: NOTICE,
    });
    const days = deps.config.PENDING_ACCOUNT_DAYS;
    await deps.db.execute(
      sql`UPDATE users SET created_at = now() - make_interval(days => ${days}::int) - interval '1 minute'
          WHERE email IN (${old}, ${oldActive})`,
    );
    const [oldRow] = await queryRows(
      deps.db,
      z.object({ id: z.string() }),
      sql`SELECT id FROM users WHERE email = ${old}`,
    );
    const runner = new JobRunner({
      config: loadConfig({}),
      database: deps.database,
      log: pino({ level: 'silent' }),
      revocations: new RevocationList(),
    });
    const result = await runner.run(pendingAccountCleanupJob);
    expect(result.outcome).toBe('ran');
    expect(result.detail).toMatchObject({ pendingDays: 7 });
    const left = await queryRows(
      deps.db,
      z.object({ email: z.string(), status: z.string() }),
      sql`SELECT email, status FROM users WHERE email IN (${old}, ${recent}, ${oldActive}) ORDER BY status, email`,
    );
    expect(left).toEqual([
      { email: oldActive, status: 'active' },
      { email: recent, status: 'pending' },
    ]);
    // Its link, consent and subscription went with it.
    const [orphans] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT ((SELECT count(*) FROM account_tokens WHERE user_id = ${oldRow!.id})
               + (SELECT count(*) FROM privacy_consents WHERE user_id = ${oldRow!.id})
               + (SELECT count(*) FROM subscriptions WHERE user_id = ${oldRow!.id}))::int AS n`,
    );
    expect(orphans?.n).toBe(0);
    // The address is free: a new registration of it is pending again (a new account).
    await registerRaw(old);
    expect((await runner.run(pendingAccountCleanupJob)).outcome).toBe('skipped_fresh');
  });
});
