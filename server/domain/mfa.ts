// Second factors as use cases (docs/decisions/staff-mfa.md): enrol a TOTP app or a passkey,
// list, rename, remove, new recovery codes; the second step of a sign-in (challenge token
// → factor → token pair); step-up (a factor verified again: the session's amr and
// auth_time move to now). The factors themselves (TOTP, WebAuthn, recovery codes) are in
// server/auth/factors.ts. Each SQL statement is counted; the numbers are in docs/api.md and
// asserted by test/mfa.test.ts.
//
// Every factor check counts against the login limiter first (the same email+IP and IP
// counters as passwords, so a lockout does not tell which step failed) and is refunded
// only when the whole sign-in succeeds. A factor is consumed in the statement that starts
// or upgrades the session: a TOTP step only once per factor (replay), a passkey's counter
// only forwards, a recovery code once, a ceremony token once.
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Executor, queryRows, uniqueViolation } from '../../db/client.ts';
import { date } from '../../db/row.ts';
import type {
  CompleteLoginInput,
  ConfirmPasskeyInput,
  ConfirmTotpInput,
  FactorProofInput,
  VerifyFactorInput,
} from '../../shared/inputs/mfa.ts';
import { auditInsert, recordAudit } from '../audit.ts';
import { type ClaimsRow, claimsRow, claimsSelect, issuedAt, tokenSubject } from '../auth/claims.ts';
import { MFA_AMR, needsSecondFactor, STEP_UP_SECONDS, steppedUp } from '../auth/factor-policy.ts';
import {
  hashRecoveryCode,
  newChallenge,
  newRecoveryCodes,
  newTotpSecret,
  passkeyAuthenticationOptions,
  passkeyRegistrationOptions,
  totpStep,
  totpUri,
  verifyPasskeyAssertion,
  verifyPasskeyRegistration,
} from '../auth/factors.ts';
import {
  type ClientInfo,
  newFamilyId,
  newRefreshToken,
  REFRESH_TOKEN_AUTH_COLUMNS,
  refreshTokenValues,
  SESSION_AUTH_COLUMNS,
} from '../auth/refresh.ts';
import { sessionRevocation } from '../auth/revocation.ts';
import { type AccessClaims, type CeremonyClaims, InvalidTokenError } from '../auth/tokens.ts';
import type { AppDeps } from '../services.ts';
import { ACCOUNT_CHANGED_MESSAGE, type AuthResult, sessionUser } from './auth.ts';
import { conflict, DomainError, forbidden, notFound, unauthorized } from './errors.ts';
import { CEREMONY_TTL_SECONDS } from './mfa-challenge.ts';

type MfaDeps = Pick<
  AppDeps,
  'db' | 'tokens' | 'notes' | 'loginLimiter' | 'config' | 'revocations' | 'signInNotifier' | 'log'
>;

/** The same answer for every failed factor: wrong code, replayed code, bad passkey, used challenge. */
export const FACTOR_FAILED_MESSAGE = 'The code or passkey was not accepted';
const CHALLENGE_INVALID_MESSAGE = 'The sign-in challenge is invalid or expired; sign in again';
const TOTP_ISSUER = 'MANAS360';

/** What a sealed TOTP secret is bound to (a ciphertext moved to another user fails to open). */
const totpContext = (userId: string) => `totp:${userId}`;

async function ceremony(
  deps: Pick<MfaDeps, 'tokens'>,
  token: string,
  purpose: CeremonyClaims['purpose'],
  message: string,
): Promise<CeremonyClaims> {
  try {
    return await deps.tokens.verifyCeremony(token, purpose);
  } catch (err) {
    if (err instanceof InvalidTokenError) throw unauthorized(message);
    throw err;
  }
}

/** auth.mfa.loginOptions: the passkey request options of a sign-in challenge. No statement. */
export async function loginOptions(deps: Pick<MfaDeps, 'tokens' | 'config'>, challengeToken: string) {
  const c = await ceremony(deps, challengeToken, 'login', CHALLENGE_INVALID_MESSAGE);
  return passkeyAuthenticationOptions(deps.config, c.challenge);
}

// ---------------------------------------------------------------------------------------
// Checking a factor

const factorRow = z.object({
  id: z.string(),
  kind: z.enum(['totp', 'passkey']),
  secret_key_id: z.string().nullable(),
  secret_ciphertext: z.string().nullable(),
  credential_id: z.string().nullable(),
  public_key: z.string().nullable(),
  counter: z.number().nullable(),
  transports: z.array(z.string()).nullable(),
  backed_up: z.boolean().nullable(),
});
type FactorRow = z.output<typeof factorRow>;
const claimsWithFactors = claimsRow.extend({ factors: z.array(factorRow) });

/**
 * The user's claims and the factors `proof` could match (their TOTP factors, or the passkey
 * with the presented credential id): one statement.
 */
async function readForProof(db: Executor, userId: string, proof: FactorProofInput) {
  const which =
    proof.kind === 'totp'
      ? sql`f.kind = 'totp'`
      : proof.kind === 'passkey'
        ? sql`f.credential_id = ${proof.response.id}`
        : sql`false`;
  const [row] = await queryRows(
    db,
    claimsWithFactors,
    sql`${claimsSelect(
      sql`users u`,
      sql`, coalesce((SELECT json_agg(json_build_object(
            'id', f.id, 'kind', f.kind, 'secret_key_id', f.secret_key_id, 'secret_ciphertext', f.secret_ciphertext,
            'credential_id', f.credential_id, 'public_key', encode(f.public_key, 'base64'),
            'counter', f.counter, 'transports', f.transports, 'backed_up', f.backed_up) ORDER BY f.created_at)
          FROM mfa_factors f WHERE f.user_id = u.id AND ${which}), '[]'::json) AS factors`,
    )} WHERE u.id = ${userId} AND u.deleted_at IS NULL`,
  );
  return row;
}

/**
 * A factor that checked out, and the SQL that consumes it: a CTE returning a row once, and
 * only when the statement's CTE `gate` has a row (ceremonyGate: the ceremony is unused).
 */
interface Checked {
  amr: string[];
  factorId: string | null;
  consume: SQL;
}

/**
 * Checks `proof` against the factors read (no statement). Returns what consumes it, or
 * undefined when nothing matches. `challenge`: the passkey ceremony's challenge.
 */
async function checkProof(
  deps: Pick<MfaDeps, 'notes' | 'config'>,
  userId: string,
  proof: FactorProofInput,
  factors: FactorRow[],
  challenge: string | undefined,
): Promise<Checked | undefined> {
  if (proof.kind === 'recovery') {
    return {
      amr: ['pwd', 'otp', MFA_AMR],
      factorId: null,
      consume: sql`UPDATE mfa_recovery_codes SET used_at = now()
                   WHERE user_id = ${userId} AND code_hash = ${hashRecoveryCode(proof.code)} AND used_at IS NULL
                     AND EXISTS (SELECT 1 FROM gate)
                   RETURNING user_id`,
    };
  }
  if (proof.kind === 'totp') {
    for (const f of factors) {
      if (f.kind !== 'totp' || !f.secret_key_id || !f.secret_ciphertext) continue;
      const secret = deps.notes.open(
        { keyId: f.secret_key_id, ciphertext: f.secret_ciphertext },
        totpContext(userId),
      );
      const step = totpStep(secret, proof.code);
      if (step === undefined) continue;
      return {
        amr: ['pwd', 'otp', MFA_AMR],
        factorId: f.id,
        // A step at or before the last one used is a replay (or an older code): refused.
        consume: sql`UPDATE mfa_factors SET last_used_step = ${step}, last_used_at = now()
                     WHERE id = ${f.id} AND (last_used_step IS NULL OR last_used_step < ${step})
                       AND EXISTS (SELECT 1 FROM gate)
                     RETURNING user_id`,
      };
    }
    return undefined;
  }
  const f = factors.find((x) => x.kind === 'passkey' && x.credential_id === proof.response.id);
  if (!f || !challenge || !f.public_key || f.counter === null) return undefined;
  const counter = await verifyPasskeyAssertion(
    deps.config,
    proof.response as AuthenticationResponseJSON,
    challenge,
    {
      credentialId: f.credential_id!,
      publicKey: Buffer.from(f.public_key, 'base64'),
      counter: f.counter,
      transports: f.transports ?? [],
    },
  );
  if (counter === undefined) return undefined;
  return {
    amr: ['pwd', f.backed_up ? 'swk' : 'hwk', MFA_AMR],
    factorId: f.id,
    // Forwards only (two parallel uses of one assertion: one wins); 0 stays 0 for
    // authenticators without a counter.
    consume: sql`UPDATE mfa_factors SET counter = ${counter}, last_used_at = now()
                 WHERE id = ${f.id} AND (counter < ${counter} OR (counter = 0 AND ${counter}::bigint = 0))
                   AND EXISTS (SELECT 1 FROM gate)
                 RETURNING user_id`,
  };
}

/**
 * A ceremony token's single use: a CTE returning its jti the first time only; with `when`
 * (a condition), only if it holds (a sign-in's challenge is used up by a factor that
 * worked, not by a refused one: the person types the code again, not the password).
 */
const useCeremony = (c: Pick<CeremonyClaims, 'jti' | 'exp'>, when: SQL = sql`true`) =>
  sql`INSERT INTO mfa_used_ceremonies (jti, expires_at) SELECT ${c.jti}::uuid, to_timestamp(${c.exp}) WHERE ${when}
      ON CONFLICT DO NOTHING RETURNING jti`;
/**
 * The `gate` of a factor's consumption: a row while the ceremony token is unused, so a used
 * one consumes no factor (two parallel uses of one token: the INSERT's conflict decides).
 */
const ceremonyGate = (c: Pick<CeremonyClaims, 'jti'>) =>
  sql`SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM mfa_used_ceremonies WHERE jti = ${c.jti}::uuid)`;
/** Ceremony tokens past their expiry need no record (their signature check refuses them). */
const forgetExpiredCeremonies = sql`DELETE FROM mfa_used_ceremonies WHERE expires_at < now() - interval '1 minute'`;

/** A failed factor: audited, and the same 401 whatever went wrong. */
async function factorFailed(
  deps: Pick<MfaDeps, 'db'>,
  userId: string,
  client: ClientInfo,
  step: 'login' | 'verify',
): Promise<never> {
  await recordAudit(deps.db, {
    actorId: userId,
    action: 'auth.mfa.failed',
    targetId: userId,
    ip: client.ip,
    details: { step },
  });
  throw unauthorized(FACTOR_FAILED_MESSAGE);
}

// ---------------------------------------------------------------------------------------
// Sign-in, step 2

const startedRow = z.object({
  issued_at: z.number(),
  known_device: z.boolean(),
  language: z.string().nullable(),
});

/**
 * auth.mfa.completeLogin: the challenge token and a factor → the token pair. 2 statements:
 * the claims with the candidate factors; then, only if the factor and the challenge are
 * unused and the account is as it was when the password was checked (active, same session
 * generation and tokens_valid_after), the factor consumed, the session started with its
 * amr and auth_time, last_login_at and the audit entry. A failure: 1 more (its audit).
 */
export async function completeLogin(
  deps: MfaDeps,
  input: CompleteLoginInput,
  client: ClientInfo,
): Promise<AuthResult> {
  const c = await ceremony(deps, input.challengeToken, 'login', CHALLENGE_INVALID_MESSAGE);
  const row = await readForProof(deps.db, c.sub, input.factor);
  if (row?.status !== 'active' || row.session_generation !== c.gen || row.tokens_valid_after !== c.tva)
    throw unauthorized(ACCOUNT_CHANGED_MESSAGE);
  await deps.loginLimiter.reserve(row.email, client.ip);
  const checked = await checkProof(deps, row.id, input.factor, row.factors, c.challenge);
  if (!checked) return factorFailed(deps, row.id, client, 'login');

  const refresh = newRefreshToken();
  const familyId = newFamilyId();
  const ua = client.userAgent?.slice(0, 256) ?? null;
  const [started] = await queryRows(
    deps.db,
    startedRow,
    sql`WITH gate AS (${ceremonyGate(c)}),
        factor AS (${checked.consume}),
        ceremony AS (${useCeremony(c, sql`EXISTS (SELECT 1 FROM factor)`)}),
        forget AS (${forgetExpiredCeremonies}),
        u AS (
          UPDATE users SET last_login_at = now()
          WHERE id = ${row.id} AND status = 'active' AND deleted_at IS NULL
            AND session_generation = ${row.session_generation}
            AND ceil(extract(epoch FROM tokens_valid_after)) = ${row.tokens_valid_after}
            AND EXISTS (SELECT 1 FROM ceremony) AND EXISTS (SELECT 1 FROM factor)
          RETURNING id, session_generation, language, floor(extract(epoch FROM clock_timestamp()))::float8 AS issued_at
        ), rt AS (
          INSERT INTO refresh_tokens ${REFRESH_TOKEN_AUTH_COLUMNS}
          SELECT ${refreshTokenValues({ userId: sql`u.id`, hash: refresh.hash, familyId: sql`${familyId}::uuid`, generation: sql`u.session_generation`, ttlSeconds: deps.config.REFRESH_TOKEN_TTL_SECONDS, client })},
                 ${textArray(checked.amr)}, now()
          FROM u
        ), audit AS (
          ${auditInsert({ actorId: sql`u.id`, action: 'auth.login', targetId: sql`u.id`, ip: client.ip, details: { amr: checked.amr, factorId: checked.factorId } }, sql`u`)}
        )
        SELECT u.issued_at, u.language,
               EXISTS (SELECT 1 FROM refresh_tokens k WHERE k.user_id = u.id
                       AND k.user_agent IS NOT DISTINCT FROM ${ua}::text) AS known_device
        FROM u`,
  );
  if (!started) return factorFailed(deps, row.id, client, 'login');
  await deps.loginLimiter.recordSuccess(row.email, client.ip);
  const issued: ClaimsRow = {
    ...row,
    issued_at: started.issued_at,
    amr: checked.amr,
    auth_time: started.issued_at,
  };
  const { token } = await deps.tokens.sign(tokenSubject(issued), familyId, issuedAt(issued));
  if (!started.known_device && needsSecondFactor(row.permissions))
    await notifyNewDevice(deps, issued, started.language, client);
  return {
    user: sessionUser(row),
    accessToken: token,
    refreshToken: refresh.token,
    expiresIn: deps.tokens.ttlSeconds,
  };
}

async function notifyNewDevice(
  deps: Pick<MfaDeps, 'signInNotifier' | 'log'>,
  row: ClaimsRow,
  language: string | null,
  client: ClientInfo,
) {
  try {
    await deps.signInNotifier.newDevice({
      userId: row.id,
      email: row.email,
      name: row.name,
      language,
      ip: client.ip,
      userAgent: client.userAgent,
      amr: row.amr ?? [],
      at: new Date(),
    });
  } catch (err) {
    deps.log.error({ err, userId: row.id }, 'new-device sign-in notice failed');
  }
}

const textArray = (values: string[]) =>
  sql`ARRAY[${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )}]::text[]`;

// ---------------------------------------------------------------------------------------
// Signed in: step-up, enrolment

/** The session's access token re-issued after its amr/auth_time moved (claims from the same statement). */
async function upgradedToken(deps: Pick<MfaDeps, 'tokens'>, row: ClaimsRow, caller: AccessClaims) {
  const { token } = await deps.tokens.reissue(caller, tokenSubject(row), issuedAt(row));
  return { accessToken: token, expiresIn: deps.tokens.ttlSeconds };
}

/**
 * `UPDATE refresh_tokens` of the caller's live session (its current refresh token) to
 * `amr`, auth_time now, when `after` (a CTE name) returned a row; then the claims of the
 * user with the session's new amr and auth_time. The refresh token carries them on.
 */
function upgradeSession(userId: string, sid: string, amr: string[], after: SQL, extraColumns = sql``): SQL {
  return sql`sess AS (
      UPDATE refresh_tokens SET amr = ${textArray(amr)}, auth_time = now()
      WHERE family_id = ${sid}::uuid AND user_id = ${userId} AND used_at IS NULL AND revoked_at IS NULL
        AND expires_at > now() AND EXISTS (SELECT 1 FROM ${after})
      RETURNING session_generation, amr, auth_time
    )
    ${claimsSelect(sql`sess JOIN users u ON u.session_generation = sess.session_generation`, sql`, ${SESSION_AUTH_COLUMNS(sql`sess`)} ${extraColumns}`)}
    WHERE u.id = ${userId} AND u.status = 'active' AND u.deleted_at IS NULL`;
}

/** auth.mfa.verifyOptions: a passkey step-up's ceremony token and request options. No statement. */
export async function verifyOptions(deps: Pick<MfaDeps, 'tokens' | 'config'>, auth: AccessClaims) {
  const challenge = newChallenge();
  const { token } = await deps.tokens.signCeremony(
    { sub: auth.sub, purpose: 'verify', challenge, sid: auth.sid },
    CEREMONY_TTL_SECONDS,
  );
  return { ceremonyToken: token, options: await passkeyAuthenticationOptions(deps.config, challenge) };
}

/**
 * auth.mfa.verify (step-up): a factor of the caller verified again → the session's amr and
 * auth_time move to now, and a new access token for it. 2 statements (the factors; then the
 * factor consumed, the session upgraded, audited, claims read); a failure: 1 more.
 */
export async function verifyFactor(
  deps: MfaDeps,
  auth: AccessClaims,
  input: VerifyFactorInput,
  client: ClientInfo,
) {
  let c: CeremonyClaims | undefined;
  if (input.factor.kind === 'passkey') {
    if (!input.ceremonyToken) throw unauthorized(FACTOR_FAILED_MESSAGE);
    c = await ceremony(deps, input.ceremonyToken, 'verify', FACTOR_FAILED_MESSAGE);
    if (c.sub !== auth.sub || c.sid !== auth.sid) throw unauthorized(FACTOR_FAILED_MESSAGE);
  }
  const row = await readForProof(deps.db, auth.sub, input.factor);
  if (row?.status !== 'active') throw unauthorized();
  await deps.loginLimiter.reserve(row.email, client.ip);
  const checked = await checkProof(deps, row.id, input.factor, row.factors, c?.challenge);
  if (!checked) return factorFailed(deps, row.id, client, 'verify');
  const [upgraded] = await queryRows(
    deps.db,
    claimsRow,
    sql`WITH gate AS (${c ? ceremonyGate(c) : sql`SELECT 1`}),
        factor AS (${checked.consume}),
        ceremony AS (${c ? useCeremony(c, sql`EXISTS (SELECT 1 FROM factor)`) : sql`SELECT 1 AS jti`}),
        proof AS (SELECT 1 FROM factor WHERE EXISTS (SELECT 1 FROM ceremony)),
        audit AS (
          ${auditInsert({ actorId: row.id, action: 'auth.mfa.verify', targetId: row.id, ip: client.ip, details: { amr: checked.amr, factorId: checked.factorId, sessionId: auth.sid } }, sql`proof`)}
        ),
        ${upgradeSession(row.id, auth.sid, checked.amr, sql`proof`)}`,
  );
  if (!upgraded) return factorFailed(deps, row.id, client, 'verify');
  await deps.loginLimiter.recordSuccess(row.email, client.ip);
  return upgradedToken(deps, upgraded, auth);
}

/**
 * Enrolment needs a recent authentication: the password (or a factor) at most
 * STEP_UP_SECONDS ago. A caller who already has a factor must have used one (checked in
 * the enrolment statement, which sees the factors).
 */
function assertRecentAuth(auth: AccessClaims): void {
  if (auth.auth_time === undefined || Date.now() / 1000 - auth.auth_time > STEP_UP_SECONDS)
    throw forbidden('step_up_required');
}

/** auth.mfa.totp.begin: a new secret (to scan) and its enrolment token (the secret sealed). No statement. */
export async function beginTotp(deps: Pick<MfaDeps, 'tokens' | 'notes'>, auth: AccessClaims) {
  assertRecentAuth(auth);
  const secret = newTotpSecret();
  const { token } = await deps.tokens.signCeremony(
    {
      sub: auth.sub,
      purpose: 'totp-enrol',
      challenge: newChallenge(),
      sid: auth.sid,
      sealed: deps.notes.seal(secret, totpContext(auth.sub)),
    },
    CEREMONY_TTL_SECONDS,
  );
  return { enrolmentToken: token, secret, uri: totpUri(secret, TOTP_ISSUER, auth.email) };
}

/** auth.mfa.passkey.begin: registration options and their enrolment token. No statement. */
export async function beginPasskey(deps: Pick<MfaDeps, 'tokens' | 'config'>, auth: AccessClaims) {
  assertRecentAuth(auth);
  const challenge = newChallenge();
  const { token } = await deps.tokens.signCeremony(
    { sub: auth.sub, purpose: 'passkey-enrol', challenge, sid: auth.sid },
    CEREMONY_TTL_SECONDS,
  );
  const options = await passkeyRegistrationOptions(
    deps.config,
    { id: auth.sub, email: auth.email },
    challenge,
  );
  return { enrolmentToken: token, options };
}

const enrolledRow = claimsRow.extend({
  factor_id: z.string(),
  factor_name: z.string(),
  first_factor: z.boolean(),
});

/**
 * Stores a new factor (already verified) in ONE statement: the enrolment token used once;
 * the factor inserted only while the caller's session is live and the caller either has no
 * factor yet or stepped up with one; with the first factor, ten recovery codes (their
 * hashes); the session upgraded to the new factor's amr, audited; the claims read. Returns
 * the factor, the recovery codes (first factor only: shown once) and the new access token.
 */
async function enrol(
  deps: MfaDeps,
  auth: AccessClaims,
  c: CeremonyClaims,
  factor: { kind: 'totp' | 'passkey'; name: string; columns: SQL; values: SQL; amr: string[] },
  client: ClientInfo,
) {
  const codes = newRecoveryCodes();
  const stepped = steppedUp(auth, Date.now() / 1000);
  const hashes = textArray(codes.map(hashRecoveryCode));
  let row: z.output<typeof enrolledRow> | undefined;
  try {
    [row] = await queryRows(
      deps.db,
      enrolledRow,
      sql`WITH ceremony AS (${useCeremony(c)}),
          forget AS (${forgetExpiredCeremonies}),
          existing AS (SELECT count(*)::int AS n FROM mfa_factors WHERE user_id = ${auth.sub}),
          added AS (
            INSERT INTO mfa_factors (user_id, kind, name, ${factor.columns})
            SELECT ${auth.sub}, ${factor.kind}, ${factor.name}, ${factor.values}
            WHERE EXISTS (SELECT 1 FROM ceremony)
              AND (${stepped}::boolean OR (SELECT n FROM existing) = 0)
              AND EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = ${auth.sid}::uuid AND user_id = ${auth.sub}
                          AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now())
            RETURNING id, name
          ), codes AS (
            INSERT INTO mfa_recovery_codes (user_id, code_hash)
            SELECT ${auth.sub}, h FROM unnest(${hashes}) h
            WHERE EXISTS (SELECT 1 FROM added) AND (SELECT n FROM existing) = 0
            ON CONFLICT DO NOTHING
          ), audit AS (
            ${auditInsert({ actorId: auth.sub, action: 'auth.mfa.enrol', targetId: auth.sub, ip: client.ip, details: sql`jsonb_build_object('factorId', added.id, 'kind', ${factor.kind}::text)` }, sql`added`)}
          ),
          ${upgradeSession(auth.sub, auth.sid, factor.amr, sql`added`, sql`, (SELECT id FROM added) AS factor_id, (SELECT name FROM added) AS factor_name, (SELECT n FROM existing) = 0 AS first_factor`)}`,
    );
  } catch (err) {
    if (uniqueViolation(err) === 'mfa_factors_credential_uq')
      throw conflict('This passkey is already registered');
    throw err;
  }
  // Nothing stored: the token was used already, the session ended, or a factor exists and
  // the caller has not verified one recently.
  if (!row) throw forbidden('step_up_required');
  return {
    factor: { id: row.factor_id, kind: factor.kind, name: row.factor_name },
    recoveryCodes: row.first_factor ? codes : null,
    ...(await upgradedToken(deps, row, auth)),
  };
}

/** The ceremony token of an enrolment, for this caller and session only. */
async function enrolment(
  deps: Pick<MfaDeps, 'tokens'>,
  auth: AccessClaims,
  token: string,
  purpose: 'totp-enrol' | 'passkey-enrol',
) {
  const c = await ceremony(deps, token, purpose, 'The enrolment expired; start again');
  if (c.sub !== auth.sub || c.sid !== auth.sid) throw unauthorized('The enrolment expired; start again');
  return c;
}

/** auth.mfa.totp.confirm: the first code from the app proves the secret was copied. 1 statement. */
export async function confirmTotp(
  deps: MfaDeps,
  auth: AccessClaims,
  input: ConfirmTotpInput,
  client: ClientInfo,
) {
  assertRecentAuth(auth);
  const c = await enrolment(deps, auth, input.enrolmentToken, 'totp-enrol');
  if (!c.sealed) throw unauthorized('The enrolment expired; start again');
  const secret = deps.notes.open(c.sealed, totpContext(auth.sub));
  const step = totpStep(secret, input.code);
  if (step === undefined)
    throw new DomainError(
      'bad_request',
      'The code does not match; check the time on your device and try again',
    );
  // Re-sealed now: the newest notes key, and a ciphertext of its own for the stored row.
  const sealed = deps.notes.seal(secret, totpContext(auth.sub));
  return enrol(
    deps,
    auth,
    c,
    {
      kind: 'totp',
      name: input.name,
      columns: sql`secret_key_id, secret_ciphertext, last_used_step`,
      values: sql`${sealed.keyId}, ${sealed.ciphertext}, ${step}`,
      amr: ['pwd', 'otp', MFA_AMR],
    },
    client,
  );
}

/** auth.mfa.passkey.confirm: the registration verified (attestation none, UV required). 1 statement. */
export async function confirmPasskey(
  deps: MfaDeps,
  auth: AccessClaims,
  input: ConfirmPasskeyInput,
  client: ClientInfo,
) {
  assertRecentAuth(auth);
  const c = await enrolment(deps, auth, input.enrolmentToken, 'passkey-enrol');
  const passkey = await verifyPasskeyRegistration(
    deps.config,
    input.response as RegistrationResponseJSON,
    c.challenge,
  );
  if (!passkey) throw new DomainError('bad_request', 'The passkey could not be verified; try again');
  return enrol(
    deps,
    auth,
    c,
    {
      kind: 'passkey',
      name: input.name,
      columns: sql`credential_id, public_key, counter, transports, backed_up`,
      values: sql`${passkey.credentialId}, decode(${passkey.publicKey.toString('base64')}, 'base64'), ${passkey.counter},
                  ${textArray(passkey.transports)}, ${passkey.backedUp}`,
      amr: ['pwd', passkey.backedUp ? 'swk' : 'hwk', MFA_AMR],
    },
    client,
  );
}

// ---------------------------------------------------------------------------------------
// Managing factors

/** One row per factor (all null when there is none) with the count of unused recovery codes. */
const listedFactor = z.object({
  id: z.string().nullable(),
  kind: z.enum(['totp', 'passkey']).nullable(),
  name: z.string().nullable(),
  created_at: date.nullable(),
  last_used_at: date.nullable(),
  recovery_codes_left: z.number(),
});

/** auth.mfa.factors: the caller's factors and how many recovery codes are unused. 1 statement. */
export async function listFactors(db: Executor, userId: string) {
  const rows = await queryRows(
    db,
    listedFactor,
    sql`SELECT f.id, f.kind, f.name, f.created_at, f.last_used_at, c.n AS recovery_codes_left
        FROM (SELECT count(*)::int AS n FROM mfa_recovery_codes WHERE user_id = ${userId} AND used_at IS NULL) c
        LEFT JOIN mfa_factors f ON f.user_id = ${userId}
        ORDER BY f.created_at`,
  );
  return {
    factors: rows
      .filter((r) => r.id)
      .map((r) => ({
        id: r.id!,
        kind: r.kind!,
        name: r.name!,
        createdAt: r.created_at!,
        lastUsedAt: r.last_used_at ?? null,
      })),
    recoveryCodesLeft: rows[0]?.recovery_codes_left ?? 0,
  };
}

/** auth.mfa.rename (step-up): 1 statement with its audit entry. */
export async function renameFactor(
  db: Executor,
  userId: string,
  input: { factorId: string; name: string },
  client: ClientInfo,
) {
  const [row] = await queryRows(
    db,
    z.object({ id: z.string() }),
    sql`WITH f AS (
          UPDATE mfa_factors SET name = ${input.name} WHERE id = ${input.factorId} AND user_id = ${userId} RETURNING id
        ), audit AS (
          ${auditInsert({ actorId: userId, action: 'auth.mfa.rename', targetId: userId, ip: client.ip, details: sql`jsonb_build_object('factorId', f.id)` }, sql`f`)}
        )
        SELECT id FROM f`,
  );
  if (!row) throw notFound('Factor');
  return { ok: true as const };
}

/**
 * auth.mfa.remove (step-up): in a transaction, the caller's row locked (parallel removals
 * queue), then the factor deleted — unless it is the last one and the caller's role needs a
 * factor — with the recovery codes when no factor is left, and the audit entry.
 */
export async function removeFactor(
  db: AppDeps['db'],
  auth: Pick<AccessClaims, 'sub' | 'permissions'>,
  factorId: string,
  client: ClientInfo,
) {
  const mayRemoveLast = !needsSecondFactor(auth.permissions);
  const row = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT 1 FROM users WHERE id = ${auth.sub} FOR UPDATE`);
    const [r] = await queryRows(
      tx,
      z.object({ found: z.boolean(), removed: z.boolean() }),
      sql`WITH target AS (SELECT id FROM mfa_factors WHERE id = ${factorId} AND user_id = ${auth.sub}),
          others AS (SELECT count(*)::int AS n FROM mfa_factors WHERE user_id = ${auth.sub} AND id <> ${factorId}),
          d AS (
            DELETE FROM mfa_factors WHERE id IN (SELECT id FROM target)
              AND (${mayRemoveLast}::boolean OR (SELECT n FROM others) > 0)
            RETURNING id
          ), codes AS (
            DELETE FROM mfa_recovery_codes WHERE user_id = ${auth.sub}
              AND EXISTS (SELECT 1 FROM d) AND (SELECT n FROM others) = 0
          ), audit AS (
            ${auditInsert({ actorId: auth.sub, action: 'auth.mfa.remove', targetId: auth.sub, ip: client.ip, details: sql`jsonb_build_object('factorId', d.id)` }, sql`d`)}
          )
          SELECT EXISTS (SELECT 1 FROM target) AS found, EXISTS (SELECT 1 FROM d) AS removed`,
    );
    return r!;
  });
  if (!row.found) throw notFound('Factor');
  if (!row.removed)
    throw conflict('This is your last second factor, which your role requires: add another first');
  return { ok: true as const };
}

/** auth.mfa.recoveryCodes (step-up): ten new codes replace the old ones. 1 statement. */
export async function regenerateRecoveryCodes(db: Executor, userId: string, client: ClientInfo) {
  const codes = newRecoveryCodes();
  const [row] = await queryRows(
    db,
    z.object({ n: z.number() }),
    sql`WITH has AS (SELECT 1 FROM mfa_factors WHERE user_id = ${userId} LIMIT 1),
        old AS (DELETE FROM mfa_recovery_codes WHERE user_id = ${userId} AND EXISTS (SELECT 1 FROM has)),
        ins AS (
          INSERT INTO mfa_recovery_codes (user_id, code_hash)
          SELECT ${userId}, h FROM unnest(${textArray(codes.map(hashRecoveryCode))}) h WHERE EXISTS (SELECT 1 FROM has)
          ON CONFLICT (user_id, code_hash) DO UPDATE SET used_at = NULL, created_at = now()
          RETURNING 1
        ), audit AS (
          ${auditInsert({ actorId: userId, action: 'auth.mfa.recoveryCodes', targetId: userId, ip: client.ip }, sql`has`)}
        )
        SELECT count(*)::int AS n FROM ins`,
  );
  if (!row?.n) throw conflict('Add a second factor first: recovery codes stand in for one');
  return { recoveryCodes: codes };
}

// ---------------------------------------------------------------------------------------
// Sessions

const sessionRow = z.object({
  id: z.string(),
  started_at: date,
  last_used_at: date,
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  amr: z.array(z.string()),
  auth_time: date,
});

/** At most this many sessions are listed (newest use first). */
export const SESSIONS_LISTED = 50;

/**
 * auth.sessions: the caller's live sessions (refresh-token families whose current token is
 * unused, unrevoked, unexpired and of the current session generation), newest use first:
 * where from, when started and last used, how authenticated. 1 statement.
 */
export async function listSessions(db: Executor, auth: Pick<AccessClaims, 'sub' | 'sid'>) {
  const rows = await queryRows(
    db,
    sessionRow,
    sql`SELECT t.family_id AS id, t.ip, t.user_agent, t.created_at AS last_used_at, t.amr, t.auth_time,
               (SELECT min(f.created_at) FROM refresh_tokens f WHERE f.family_id = t.family_id) AS started_at
        FROM refresh_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.user_id = ${auth.sub} AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > now()
          AND t.session_generation = u.session_generation
        ORDER BY t.created_at DESC LIMIT ${SESSIONS_LISTED}`,
  );
  return rows.map((r) => ({
    id: r.id,
    current: r.id === auth.sid,
    startedAt: r.started_at,
    lastUsedAt: r.last_used_at,
    ip: r.ip,
    userAgent: r.user_agent,
    amr: r.amr,
    authTime: r.auth_time,
  }));
}

/**
 * auth.revokeSession: ends one of the caller's sessions (its refresh tokens revoked with the
 * audit entry in 1 statement; its access tokens announced revoked on every instance).
 */
export async function revokeSession(
  deps: Pick<MfaDeps, 'db' | 'revocations' | 'tokens'>,
  userId: string,
  sessionId: string,
  client: ClientInfo,
) {
  const [row] = await queryRows(
    deps.db,
    z.object({ n: z.number() }),
    sql`WITH r AS (
          UPDATE refresh_tokens SET revoked_at = now()
          WHERE family_id = ${sessionId} AND user_id = ${userId} AND revoked_at IS NULL
          RETURNING family_id
        ), audit AS (
          ${auditInsert({ actorId: userId, action: 'auth.revokeSession', targetId: userId, ip: client.ip, details: { sessionId } }, sql`(SELECT 1 FROM r LIMIT 1) one`)}
        )
        SELECT count(*)::int AS n FROM r`,
  );
  if (!row?.n) throw notFound('Session');
  await deps.revocations.announce(sessionRevocation(sessionId, deps.tokens.ttlSeconds));
  return { ok: true as const };
}
