// Second factors (issue 28): a patient's login unchanged; staff need a factor (a claim, zero
// queries); TOTP and passkey enrolment; the two-step sign-in with a challenge token that is
// good for nothing else; TOTP replay, passkey counters, single-use recovery codes; step-up
// from the token's auth_time; removing the last factor refused; the login limiter counting
// factor attempts exactly under concurrency; sessions listed and revoked. TOTP codes are
// computed here from the enrolled secret by a separate RFC 6238 implementation.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countQueries, queryRows } from '../db/client.ts';
import type { SignInNotifier } from '../server/auth/sign-in-notice.ts';
import type { AccessClaims } from '../server/auth/tokens.ts';
import { DomainError } from '../server/domain/errors.ts';
import { authenticate } from '../server/trpc/context.ts';
import { errorOf } from './fixtures/domain.ts';
import { callerFor, callerRegister, createTestDeps, DB_KINDS, NOTICE } from './helpers.ts';
import { SoftPasskey } from './support/passkey.ts';
import { rfc6238 } from './support/totp.ts';

type Deps = Awaited<ReturnType<typeof createTestDeps>>;

let seq = 0;
const uniqueEmail = (tag: string) => `${tag}.${Date.now().toString(36)}.${seq++}@example.com`;
const PASSWORD = 'correct horse battery';
const LIMIT = 6;

/** A 6-digit code no step of the ±1 window around now accepts. */
function wrongCode(secret: string): string {
  const valid = new Set([-30_000, 0, 30_000].map((d) => rfc6238(secret, Date.now() + d)));
  for (let i = 0; ; i++) {
    const code = String((123_456 + i * 7919) % 1_000_000).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

const reasonOf = (err: { cause?: unknown }) =>
  err.cause instanceof DomainError ? err.cause.details?.reason : undefined;
const detailsOf = (err: { cause?: unknown }) =>
  err.cause instanceof DomainError ? err.cause.details : undefined;

describe.each(DB_KINDS)('second factors on %s', (kind) => {
  let deps: Deps;
  const notices: string[] = [];
  beforeAll(async () => {
    deps = await createTestDeps(kind, { RATE_LIMIT_LOGIN_FAILURES: String(LIMIT) });
    // The notifier interface the email queue will implement: record what would be sent.
    const notifier: SignInNotifier = {
      async newDevice(event) {
        notices.push(`${event.userId} ${event.userAgent ?? ''}`);
      },
    };
    deps.signInNotifier = notifier;
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  const ip = () => `10.28.${seq % 250}.${++seq % 250}`;
  const anon = (req: { ip?: string; userAgent?: string } = {}) => callerFor(deps, null, req);
  const claimsOf = async (token: string) => (await authenticate(deps, `Bearer ${token}`)).auth;
  const as = async (token: string, req: { ip?: string; userAgent?: string } = {}) => {
    const claims = await claimsOf(token);
    if (!claims) throw new Error('token refused');
    return callerFor(deps, claims, req);
  };

  /** A registered user given `role` by SQL (as an admin would), not yet signed in again. */
  async function user(role: 'patient' | 'therapist' | 'admin') {
    const email = uniqueEmail(role);
    const reg = await callerRegister(deps, {
      email,
      password: PASSWORD,
      name: 'Test',
      acceptPrivacyNotice: NOTICE,
    });
    if (role !== 'patient')
      await deps.db.execute(
        sql`UPDATE users SET role_id = (SELECT id FROM roles WHERE name = ${role}) WHERE id = ${reg.user.id}`,
      );
    return { id: reg.user.id, email };
  }

  /** Staff with TOTP enrolled at `enrolAt` (ms); their session token and the secret. */
  async function staffWithTotp(role: 'therapist' | 'admin' = 'therapist', client = { ip: ip() }) {
    const u = await user(role);
    const login = await anon(client).auth.login({ email: u.email, password: PASSWORD });
    const api = await as(login.accessToken, client);
    const begun = await api.auth.mfa.totp.begin();
    const enrolled = await api.auth.mfa.totp.confirm({
      enrolmentToken: begun.enrolmentToken,
      code: rfc6238(begun.secret, Date.now()),
    });
    return { ...u, secret: begun.secret, enrolled, login, client };
  }

  /** auth.login of an account with a factor: the challenge token from FORBIDDEN mfa_required. */
  async function challenge(email: string, client: { ip?: string; userAgent?: string } = {}) {
    const err = await errorOf(anon(client).auth.login({ email, password: PASSWORD }));
    expect(err.code).toBe('FORBIDDEN');
    const details = detailsOf(err);
    expect(details?.reason).toBe('mfa_required');
    return details!.challengeToken!;
  }

  it("a patient's login is unchanged: 2 statements, a token pair, amr pwd", async () => {
    const u = await user('patient');
    const { result, queries } = await countQueries(() =>
      anon().auth.login({ email: u.email, password: PASSWORD }),
    );
    expect(queries).toBe(2);
    expect(Object.keys(result).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user']);
    const claims = await claimsOf(result.accessToken);
    expect(claims?.amr).toEqual(['pwd']);
    expect(claims?.auth_time).toBe(claims?.iat);
    // The patient's procedures need no factor.
    const api = await as(result.accessToken);
    expect(await api.mood.list({})).toBeDefined();
  });

  it('staff without a factor get only the enrolment procedures, refused with factor_required at zero queries', async () => {
    const u = await user('therapist');
    const login = await anon().auth.login({ email: u.email, password: PASSWORD });
    const api = await as(login.accessToken);
    const { result: refused, queries } = await countQueries(() => errorOf(api.crisis.list({})));
    expect(queries).toBe(0);
    expect(refused.code).toBe('FORBIDDEN');
    expect(reasonOf(refused)).toBe('factor_required');
    expect(reasonOf(await errorOf(api.therapy.notes({ sessionId: randomUUID() })))).toBe('factor_required');
    const me = await countQueries(() => api.auth.me());
    expect(me.queries).toBe(0);
    expect(me.result.amr).toEqual(['pwd']);
    expect(await api.auth.mfa.factors()).toEqual({ factors: [], recoveryCodesLeft: 0 });
  });

  it('enrols TOTP: begin at 0 statements, confirm in 1 (secret sealed at rest, 10 recovery codes, session upgraded)', async () => {
    const u = await user('therapist');
    const login = await anon().auth.login({ email: u.email, password: PASSWORD });
    const api = await as(login.accessToken);
    const begun = await countQueries(() => api.auth.mfa.totp.begin());
    expect(begun.queries).toBe(0);
    expect(begun.result.uri).toMatch(/^otpauth:\/\/totp\/MANAS360:.+secret=[A-Z2-7]+/);
    // A wrong code stores nothing.
    const wrong = await errorOf(
      api.auth.mfa.totp.confirm({
        enrolmentToken: begun.result.enrolmentToken,
        code: wrongCode(begun.result.secret),
      }),
    );
    expect(wrong.code).toBe('BAD_REQUEST');
    const confirmed = await countQueries(() =>
      api.auth.mfa.totp.confirm({
        enrolmentToken: begun.result.enrolmentToken,
        code: rfc6238(begun.result.secret, Date.now()),
        name: 'Phone',
      }),
    );
    expect(confirmed.queries).toBe(1);
    const out = confirmed.result;
    expect(out.factor).toMatchObject({ kind: 'totp', name: 'Phone' });
    expect(out.recoveryCodes).toHaveLength(10);
    expect(new Set(out.recoveryCodes).size).toBe(10);
    const claims = await claimsOf(out.accessToken);
    expect(claims?.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims?.sid).toBe((await claimsOf(login.accessToken))?.sid);
    // The enrolment token is single-use.
    const again = await errorOf(
      api.auth.mfa.totp.confirm({
        enrolmentToken: begun.result.enrolmentToken,
        code: rfc6238(begun.result.secret, Date.now() + 30_000),
      }),
    );
    expect(again.code).toBe('FORBIDDEN');
    // At rest: neither the secret nor a recovery code in clear.
    const stored = await queryRows(
      deps.db,
      z.object({ secret_ciphertext: z.string(), secret_key_id: z.string() }),
      sql`SELECT secret_ciphertext, secret_key_id FROM mfa_factors WHERE user_id = ${u.id}`,
    );
    expect(stored).toHaveLength(1);
    expect(stored[0]!.secret_ciphertext).not.toContain(begun.result.secret);
    expect(stored[0]!.secret_key_id).toBe(deps.notes.keyId);
    const codes = await queryRows(
      deps.db,
      z.object({ code_hash: z.string() }),
      sql`SELECT code_hash FROM mfa_recovery_codes WHERE user_id = ${u.id}`,
    );
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(out.recoveryCodes).not.toContain(c.code_hash);
    // The upgraded session reaches the staff procedures; the refresh keeps its factor.
    const upgraded = await as(out.accessToken);
    expect(await upgraded.crisis.list({})).toBeDefined();
    const refreshed = await anon().auth.refresh({ refreshToken: login.refreshToken });
    expect((await claimsOf(refreshed.accessToken))?.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('signs staff in in two steps: 1 statement to a challenge, 2 to the pair; the challenge token opens nothing else', async () => {
    const s = await staffWithTotp();
    const step1 = await countQueries(() =>
      errorOf(anon(s.client).auth.login({ email: s.email, password: PASSWORD })),
    );
    expect(step1.queries).toBe(1);
    expect(detailsOf(step1.result)).toMatchObject({ reason: 'mfa_required', factors: ['totp', 'recovery'] });
    const challengeToken = detailsOf(step1.result)!.challengeToken!;
    // Not an access token: refused as a bearer, and by the refresh endpoint.
    expect(await claimsOf(challengeToken)).toBeNull();
    expect((await errorOf(anon().auth.refresh({ refreshToken: challengeToken }))).code).toBe('BAD_REQUEST');
    // Nor is an access token a challenge.
    const misuse = await errorOf(
      anon().auth.mfa.completeLogin({
        challengeToken: s.enrolled.accessToken,
        factor: { kind: 'totp', code: '123456' },
      }),
    );
    expect(misuse.code).toBe('UNAUTHORIZED');

    const code = rfc6238(s.secret, Date.now() + 30_000);
    const step2 = await countQueries(() =>
      anon(s.client).auth.mfa.completeLogin({ challengeToken, factor: { kind: 'totp', code } }),
    );
    expect(step2.queries).toBe(2);
    const claims = await claimsOf(step2.result.accessToken);
    expect(claims?.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(Math.abs(claims!.auth_time! - Date.now() / 1000)).toBeLessThan(60);
    // The same challenge token again: used.
    const reused = await errorOf(
      anon(s.client).auth.mfa.completeLogin({ challengeToken, factor: { kind: 'totp', code } }),
    );
    expect(reused.code).toBe('UNAUTHORIZED');
    // The same code with a new challenge: a replay, refused with the same answer as a wrong code.
    const replay = await errorOf(
      anon(s.client).auth.mfa.completeLogin({
        challengeToken: await challenge(s.email, s.client),
        factor: { kind: 'totp', code },
      }),
    );
    expect(replay.code).toBe('UNAUTHORIZED');
    expect(replay.message).toBe('The code or passkey was not accepted');
    const wrong = await errorOf(
      anon(s.client).auth.mfa.completeLogin({
        challengeToken: await challenge(s.email, s.client),
        factor: { kind: 'totp', code: wrongCode(s.secret) },
      }),
    );
    expect(wrong.message).toBe(replay.message);
  });

  it('recovery codes work once each', async () => {
    const s = await staffWithTotp();
    const [code] = s.enrolled.recoveryCodes!;
    const first = await anon(s.client).auth.mfa.completeLogin({
      challengeToken: await challenge(s.email, s.client),
      factor: { kind: 'recovery', code: code!.toLowerCase() },
    });
    expect((await claimsOf(first.accessToken))?.amr).toContain('mfa');
    const second = await errorOf(
      anon(s.client).auth.mfa.completeLogin({
        challengeToken: await challenge(s.email, s.client),
        factor: { kind: 'recovery', code: code! },
      }),
    );
    expect(second.code).toBe('UNAUTHORIZED');
    const api = await as(first.accessToken);
    expect((await api.auth.mfa.factors()).recoveryCodesLeft).toBe(9);
  });

  it('a refused code leaves the challenge for another try; the one that works uses it up', async () => {
    const s = await staffWithTotp();
    const [used, unknown, good, other] = s.enrolled.recoveryCodes!;
    await anon(s.client).auth.mfa.completeLogin({
      challengeToken: await challenge(s.email, s.client),
      factor: { kind: 'recovery', code: used! },
    });
    const challengeToken = await challenge(s.email, s.client);
    // A used recovery code, a code that is none of the account's, a TOTP replay: refused alike.
    const refused = [
      { kind: 'recovery', code: used! },
      { kind: 'recovery', code: `${unknown!.slice(0, -1)}${unknown!.endsWith('A') ? 'B' : 'A'}` },
      { kind: 'totp', code: rfc6238(s.secret, Date.now()) },
    ] as const;
    for (const factor of refused) {
      const err = await errorOf(anon(s.client).auth.mfa.completeLogin({ challengeToken, factor }));
      expect(err.message).toBe('The code or passkey was not accepted');
    }
    const signedIn = await anon(s.client).auth.mfa.completeLogin({
      challengeToken,
      factor: { kind: 'recovery', code: good! },
    });
    expect((await claimsOf(signedIn.accessToken))?.amr).toContain('mfa');
    const again = await errorOf(
      anon(s.client).auth.mfa.completeLogin({ challengeToken, factor: { kind: 'recovery', code: other! } }),
    );
    expect(again.code).toBe('UNAUTHORIZED');
    // The used challenge consumed no code: 10 less `used` and `good`.
    expect((await (await as(signedIn.accessToken)).auth.mfa.factors()).recoveryCodesLeft).toBe(8);
  });

  it('passkeys: user verification required, the counter must move forwards, an assertion is bound to its challenge', async () => {
    const u = await user('admin');
    const login = await anon().auth.login({ email: u.email, password: PASSWORD });
    const api = await as(login.accessToken);
    const noUv = new SoftPasskey({ userVerified: false });
    const b1 = await api.auth.mfa.passkey.begin();
    expect(b1.options.authenticatorSelection).toMatchObject({
      userVerification: 'required',
      residentKey: 'required',
    });
    expect(b1.options.attestation).toBe('none');
    const refusedUv = await errorOf(
      api.auth.mfa.passkey.confirm({
        enrolmentToken: b1.enrolmentToken,
        response: noUv.register(b1.options),
      }),
    );
    expect(refusedUv.code).toBe('BAD_REQUEST');
    // From a page of another origin: refused.
    const phished = new SoftPasskey({ origin: 'https://manas360.example.evil' });
    const b2 = await api.auth.mfa.passkey.begin();
    expect(
      (
        await errorOf(
          api.auth.mfa.passkey.confirm({
            enrolmentToken: b2.enrolmentToken,
            response: phished.register(b2.options),
          }),
        )
      ).code,
    ).toBe('BAD_REQUEST');

    const passkey = new SoftPasskey();
    const b3 = await api.auth.mfa.passkey.begin();
    const enrolled = await api.auth.mfa.passkey.confirm({
      enrolmentToken: b3.enrolmentToken,
      response: passkey.register(b3.options),
      name: 'Laptop',
    });
    expect((await claimsOf(enrolled.accessToken))?.amr).toEqual(['pwd', 'hwk', 'mfa']);

    const signInWith = async (response: (o: { challenge: string }) => ReturnType<SoftPasskey['assert']>) => {
      const challengeToken = await challenge(u.email);
      const options = await anon().auth.mfa.loginOptions({ challengeToken });
      return anon().auth.mfa.completeLogin({
        challengeToken,
        factor: { kind: 'passkey', response: response(options) },
      });
    };
    const ok = await signInWith((o) => passkey.assert(o));
    expect((await claimsOf(ok.accessToken))?.amr).toEqual(['pwd', 'hwk', 'mfa']);
    // An assertion made for one challenge, presented with another: refused.
    const stale = passkey.assert({ challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    expect((await errorOf(signInWith(() => stale))).code).toBe('UNAUTHORIZED');
    // A clone whose counter is behind the stored one: refused.
    passkey.counter = 0;
    expect((await errorOf(signInWith((o) => passkey.assert(o)))).code).toBe('UNAUTHORIZED');
    passkey.counter = 100;
    expect(await signInWith((o) => passkey.assert(o))).toHaveProperty('accessToken');
  });

  it('step-up: a factor older than 15 minutes is refused with step_up_required at zero queries; auth.mfa.verify renews it', async () => {
    const s = await staffWithTotp('admin');
    const fresh = (await claimsOf(s.enrolled.accessToken))!;
    const old = Math.floor(Date.now() / 1000) - 16 * 60;
    // The same session, its factor verified 16 minutes ago.
    const staleToken = (
      await deps.tokens.sign(
        { ...fresh, id: fresh.sub, auth_time: old },
        fresh.sid,
        Math.floor(Date.now() / 1000),
      )
    ).token;
    const stale = await as(staleToken, s.client);
    const setRole = await countQueries(() =>
      errorOf(stale.admin.users.setRole({ userId: s.id, role: 'therapist' })),
    );
    expect(setRole.queries).toBe(0);
    expect(reasonOf(setRole.result)).toBe('step_up_required');
    expect(reasonOf(await errorOf(stale.admin.audit.list({})))).toBe('step_up_required');
    expect(reasonOf(await errorOf(stale.admin.audit.list({ reads: true })))).toBe('step_up_required');
    // A list that cannot hold audited reads needs no step-up; other admin work neither.
    expect(await stale.admin.audit.list({ action: 'auth.login' })).toBeDefined();
    expect(await stale.admin.users.list({})).toBeDefined();

    const verified = await countQueries(() =>
      stale.auth.mfa.verify({ factor: { kind: 'totp', code: rfc6238(s.secret, Date.now() + 30_000) } }),
    );
    expect(verified.queries).toBe(2);
    const renewed = await claimsOf(verified.result.accessToken);
    expect(renewed?.sid).toBe(fresh.sid);
    expect(renewed!.auth_time!).toBeGreaterThan(old);
    const api = await as(verified.result.accessToken, s.client);
    expect(await api.admin.audit.list({ reads: true })).toBeDefined();
  });

  it('removing factors: re-authentication needed, never the last one of a staff member; rename', async () => {
    const s = await staffWithTotp();
    const api = await as(s.enrolled.accessToken);
    const [totp] = (await api.auth.mfa.factors()).factors;
    const last = await errorOf(api.auth.mfa.remove({ factorId: totp!.id }));
    expect(last.code).toBe('CONFLICT');
    // A second factor (a passkey) added with the stepped-up session.
    const passkey = new SoftPasskey();
    const begun = await api.auth.mfa.passkey.begin();
    const added = await api.auth.mfa.passkey.confirm({
      enrolmentToken: begun.enrolmentToken,
      response: passkey.register(begun.options),
    });
    expect(added.recoveryCodes).toBeNull();
    const now = await as(added.accessToken);
    await now.auth.mfa.rename({ factorId: totp!.id, name: 'Old phone' });
    expect((await now.auth.mfa.factors()).factors.map((f) => f.name).sort()).toEqual([
      'Old phone',
      'Passkey',
    ]);
    const removed = await countQueries(() => now.auth.mfa.remove({ factorId: totp!.id }));
    expect(removed.result).toEqual({ ok: true });
    expect(removed.queries).toBe(2); // in one transaction: the caller's row locked, the delete
    expect((await now.auth.mfa.factors()).factors).toHaveLength(1);
    // Without a recent factor: refused before anything is read.
    const fresh = (await claimsOf(added.accessToken))!;
    const stale = await as(
      (await deps.tokens.sign({ ...fresh, id: fresh.sub, auth_time: fresh.auth_time! - 3600 }, fresh.sid))
        .token,
    );
    const refused = await countQueries(() => errorOf(stale.auth.mfa.remove({ factorId: added.factor.id })));
    expect(refused.queries).toBe(0);
    expect(reasonOf(refused.result)).toBe('step_up_required');
    // A password-only session of an account with a factor cannot enrol one of its own.
    const pwdOnly = await as(
      (
        await deps.tokens.sign(
          { ...fresh, id: fresh.sub, amr: ['pwd'], auth_time: Math.floor(Date.now() / 1000) },
          fresh.sid,
        )
      ).token,
    );
    const b = await pwdOnly.auth.mfa.totp.begin();
    const sneaky = await errorOf(
      pwdOnly.auth.mfa.totp.confirm({
        enrolmentToken: b.enrolmentToken,
        code: rfc6238(b.secret, Date.now()),
      }),
    );
    expect(reasonOf(sneaky)).toBe('step_up_required');
    expect((await now.auth.mfa.factors()).factors).toHaveLength(1);
  });

  it('factor attempts count against the login limiter exactly under concurrency; the lockout looks the same at both steps', async () => {
    const s = await staffWithTotp('therapist', { ip: ip() });
    const challengeToken = await challenge(s.email, s.client); // 1 point: the password step
    const code = wrongCode(s.secret);
    const tries = await Promise.all(
      Array.from({ length: 3 * LIMIT }, () =>
        anon(s.client)
          .auth.mfa.completeLogin({ challengeToken, factor: { kind: 'totp', code } })
          .then(
            () => 'OK',
            (e: { code: string }) => e.code,
          ),
      ),
    );
    const tally: Record<string, number> = {};
    for (const c of tries) tally[c] = (tally[c] ?? 0) + 1;
    expect(tally).toEqual({ UNAUTHORIZED: LIMIT - 1, TOO_MANY_REQUESTS: 2 * LIMIT + 1 });
    // Locked: the right password and the right code both get the same 429.
    const atPassword = await errorOf(anon(s.client).auth.login({ email: s.email, password: PASSWORD }));
    const atFactor = await errorOf(
      anon(s.client).auth.mfa.completeLogin({
        challengeToken,
        factor: { kind: 'totp', code: rfc6238(s.secret, Date.now() + 30_000) },
      }),
    );
    expect(atPassword.code).toBe('TOO_MANY_REQUESTS');
    expect(atFactor.code).toBe('TOO_MANY_REQUESTS');
    expect(atFactor.message.replace(/\d+/g, 'N')).toBe(atPassword.message.replace(/\d+/g, 'N'));
    // From another address the account still signs in (the victim is not locked out).
    const elsewhere = { ip: ip() };
    const ok = await anon(elsewhere).auth.mfa.completeLogin({
      challengeToken: await challenge(s.email, elsewhere),
      factor: { kind: 'totp', code: rfc6238(s.secret, Date.now() + 30_000) },
    });
    expect(ok).toHaveProperty('accessToken');
  });

  it('auth.sessions lists live sessions (device, IP, factor) in 1 statement; auth.revokeSession ends one; a new device is noticed', async () => {
    const laptop = { ip: ip(), userAgent: 'Laptop browser' };
    const s = await staffWithTotp('therapist', laptop);
    const phone = { ip: ip(), userAgent: 'Phone browser' };
    const before = notices.length;
    const onPhone = await anon(phone).auth.mfa.completeLogin({
      challengeToken: await challenge(s.email, phone),
      factor: { kind: 'recovery', code: s.enrolled.recoveryCodes![0]! },
    });
    expect(notices.slice(before)).toEqual([`${s.id} Phone browser`]);
    const onLaptop = await anon(laptop).auth.mfa.completeLogin({
      challengeToken: await challenge(s.email, laptop),
      factor: { kind: 'recovery', code: s.enrolled.recoveryCodes![1]! },
    });
    expect(notices.slice(before)).toHaveLength(1); // the laptop was known

    const api = await as(onLaptop.accessToken, laptop);
    expect((await countQueries(() => api.auth.mfa.factors())).queries).toBe(1);
    const listed = await countQueries(() => api.auth.sessions());
    expect(listed.queries).toBe(1);
    const sessions = listed.result;
    // Registration's, the enrolment sign-in's, the phone's and the laptop's.
    expect(sessions).toHaveLength(4);
    const mine = (await claimsOf(onLaptop.accessToken))!;
    expect(sessions.find((x) => x.current)?.id).toBe(mine.sid);
    const phoneSession = sessions.find((x) => x.userAgent === 'Phone browser')!;
    expect(phoneSession).toMatchObject({ ip: phone.ip, amr: ['pwd', 'otp', 'mfa'], current: false });

    const phoneClaims = (await claimsOf(onPhone.accessToken))!;
    expect(phoneSession.id).toBe(phoneClaims.sid);
    await api.auth.revokeSession({ sessionId: phoneSession.id });
    expect(await claimsOf(onPhone.accessToken)).toBeNull();
    expect((await errorOf(anon().auth.refresh({ refreshToken: onPhone.refreshToken }))).code).toBe(
      'UNAUTHORIZED',
    );
    expect((await api.auth.sessions()).map((x) => x.id)).not.toContain(phoneSession.id);
    // Someone else's session: not found, nothing ended.
    const other = await staffWithTotp();
    const otherSid = (await claimsOf(other.enrolled.accessToken))!.sid;
    expect((await errorOf(api.auth.revokeSession({ sessionId: otherSid }))).code).toBe('NOT_FOUND');
    expect(await claimsOf(other.enrolled.accessToken)).not.toBeNull();
  });

  it('API-key creation needs a step-up; a fixture token without a factor is refused for staff permissions', async () => {
    const claims: AccessClaims = {
      sub: randomUUID(),
      email: 'x@example.com',
      role: 'therapist',
      privilegeLevel: 40,
      permissions: ['notes.read', 'api_keys.manage'],
      features: ['api_access'],
      plan: 'enterprise',
      privacyNotice: NOTICE,
      sid: randomUUID(),
      jti: randomUUID(),
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 600,
      iss: 'x',
      aud: 'y',
    };
    const noFactor = await countQueries(() =>
      errorOf(
        callerFor(deps, claims).apiKeys.create({ name: 'k', scopes: ['notes.read'], expiresInDays: 30 }),
      ),
    );
    expect(noFactor.queries).toBe(0);
    expect(reasonOf(noFactor.result)).toBe('factor_required');
    const patient = {
      ...claims,
      role: 'patient',
      permissions: ['api_keys.manage', 'mood.read'],
      amr: ['pwd'],
      emailVerified: true as const,
    };
    const notStepped = await errorOf(
      callerFor(deps, patient).apiKeys.create({ name: 'k', scopes: ['mood.read'], expiresInDays: 30 }),
    );
    expect(reasonOf(notStepped)).toBe('step_up_required');
  });
});
