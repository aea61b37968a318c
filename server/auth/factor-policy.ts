// Which sessions need a second factor, and when one counts as fresh (step-up), read from
// the access token's claims alone: zero queries (docs/decisions/staff-mfa.md).
import { FACTOR_REQUIRED_PERMISSIONS, STEP_UP_SECONDS } from '../../shared/catalog.ts';
import type { AccessClaims } from './tokens.ts';

export { STEP_UP_SECONDS };

/** The amr value of a session authenticated with a second factor (RFC 8176 "mfa"). */
export const MFA_AMR = 'mfa';

const required = new Set<string>(FACTOR_REQUIRED_PERMISSIONS);

/** True when these permissions read health data or administer accounts (staff). */
export function needsSecondFactor(permissions: readonly string[]): boolean {
  for (const p of permissions) if (required.has(p)) return true;
  return false;
}

/** The session was authenticated with a second factor. */
export function withSecondFactor(claims: Pick<AccessClaims, 'amr'>): boolean {
  return claims.amr?.includes(MFA_AMR) ?? false;
}

/** A second factor was verified in the last STEP_UP_SECONDS before `nowSeconds`. */
export function steppedUp(claims: Pick<AccessClaims, 'amr' | 'auth_time'>, nowSeconds: number): boolean {
  return (
    withSecondFactor(claims) &&
    claims.auth_time !== undefined &&
    nowSeconds - claims.auth_time <= STEP_UP_SECONDS
  );
}
