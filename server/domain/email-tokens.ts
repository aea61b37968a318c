// Single-use tokens sent by email (account_tokens: only their SHA-256 is stored) and the
// `account` queue's job type: shared by registration (server/domain/auth.ts) and the
// account-email use cases (server/domain/account-email.ts).
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';
import { addressedTo, LINK_PATHS, queueEmail } from '../email/outbox.ts';
import type { AppDeps } from '../services.ts';

export const PASSWORD_RESET_TTL_SECONDS = 30 * 60;
export const VERIFY_EMAIL_TTL_SECONDS = 24 * 3600;

/** The answer to a reset link that is unknown, used, expired or no longer applies. */
export const INVALID_LINK_MESSAGE = 'This link is invalid or has expired; ask for a new one';

export type Purpose = 'password_reset' | 'verify_email' | 'change_email';

/** A new link token and the hash stored for it. */
export function newEmailToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashEmailToken(token) };
}
export function hashEmailToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The `account` queue's jobs: work that must not show in a request's answer or timing. */
export type AccountJob =
  | { kind: 'passwordReset'; email: string }
  /** Someone registered with an address that already has an account. */
  | { kind: 'accountExists'; email: string }
  /** A new confirmation link asked for by address (auth.resendConfirmation). */
  | { kind: 'resendConfirmation'; email: string };

export const userRow = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  language: z.string().nullable(),
});

/** An active, not erased account by address (case-insensitive). */
export async function activeUserByEmail(tx: Executor, email: string) {
  const [row] = await queryRows(
    tx,
    userRow,
    sql`SELECT id, email, name, language FROM users
        WHERE lower(email) = lower(${email}) AND status = 'active' AND deleted_at IS NULL`,
  );
  return row;
}

/**
 * Stores a new token of `purpose` for the user (the previous unused ones of that purpose
 * end: only the newest link works) and returns it: 1 statement.
 */
export async function issueToken(
  tx: Executor,
  userId: string,
  purpose: Purpose,
  email: string,
  ttlSeconds: number,
) {
  const { token, hash } = newEmailToken();
  await tx.execute(
    sql`WITH ended AS (
          UPDATE account_tokens SET used_at = now()
          WHERE user_id = ${userId} AND purpose = ${purpose} AND used_at IS NULL
        )
        INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at)
        VALUES (${hash}, ${userId}, ${purpose}, ${email}, now() + make_interval(secs => ${ttlSeconds}))`,
  );
  return token;
}

/**
 * Queues the confirmation link for the account's address in `tx` (registration, a new
 * request): 2 statements (the token, the email).
 */
export async function queueEmailVerification(
  deps: Pick<AppDeps, 'queue' | 'notes'>,
  tx: Executor,
  user: { id: string; email: string; name: string; language?: string | null },
): Promise<void> {
  const token = await issueToken(tx, user.id, 'verify_email', user.email, VERIFY_EMAIL_TTL_SECONDS);
  await queueEmail(deps, tx, {
    template: 'verifyEmail',
    ...addressedTo(user),
    vars: { name: user.name },
    link: { path: LINK_PATHS.verifyEmail, token },
  });
}
