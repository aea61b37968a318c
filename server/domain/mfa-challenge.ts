// The first step of a staff sign-in (docs/decisions/staff-mfa.md): auth.login reads the
// kinds of second factor with the claims, and a right password for an account that has one
// answers with a challenge token instead of a session. The second step is
// server/domain/mfa.ts (completeLogin).
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { claimsRow } from '../auth/claims.ts';
import { newChallenge } from '../auth/factors.ts';
import type { AppDeps } from '../services.ts';
import { DomainError } from './errors.ts';

/** How long a sign-in challenge or an enrolment / step-up ceremony is valid. */
export const CEREMONY_TTL_SECONDS = 5 * 60;

/** The kinds of factor a user has, read with the login claims (one more column, no statement). */
export const factorKindsColumn = sql`, ARRAY(SELECT f.kind FROM mfa_factors f WHERE f.user_id = u.id
                                          GROUP BY f.kind ORDER BY f.kind) AS factor_kinds`;
export const loginClaimsRow = claimsRow.extend({ factor_kinds: z.array(z.string()) });
export type LoginClaimsRow = z.output<typeof loginClaimsRow>;

/**
 * The answer to a right password for an account with a factor: FORBIDDEN mfa_required with a
 * challenge token (5 minutes; an mfa+jwt its own audience: no access token verifier takes it)
 * bound to the account as it was checked. No statement.
 */
export async function loginChallenge(
  deps: Pick<AppDeps, 'tokens'>,
  row: LoginClaimsRow,
): Promise<DomainError> {
  const { token } = await deps.tokens.signCeremony(
    {
      sub: row.id,
      purpose: 'login',
      challenge: newChallenge(),
      gen: row.session_generation,
      tva: row.tokens_valid_after,
    },
    CEREMONY_TTL_SECONDS,
  );
  return new DomainError('forbidden', 'Complete the sign-in with a second factor (auth.mfa.completeLogin)', {
    reason: 'mfa_required',
    challengeToken: token,
    factors: [...row.factor_kinds, 'recovery'],
  });
}
