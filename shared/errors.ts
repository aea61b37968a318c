// Reasons a FORBIDDEN error carries in error.data.reason, so a client can act on them
// (for example show "upgrade to Basic" for missing_feature).
export const FORBIDDEN_REASONS = [
  'missing_permission',
  'missing_feature',
  'insufficient_privilege',
  'account_suspended',
  // The caller has not accepted the current privacy notice (`required` names its version):
  // call privacy.acceptNotice, then use the access token it returns.
  'privacy_notice_required',
  'email_unverified',
  // auth.login for an account with a second factor: the password was right; complete the
  // sign-in with auth.mfa.completeLogin and the `challengeToken` (valid 5 minutes, good for
  // nothing else), using one of `factors`.
  'mfa_required',
  // The token's session was not authenticated with a second factor, which this account's
  // role requires: enrol one (auth.mfa.*) if auth.mfa.factors is empty, else auth.mfa.verify.
  'factor_required',
  // The procedure needs a second factor verified in the last 15 minutes: auth.mfa.verify,
  // then retry with the access token it returns.
  'step_up_required',
  // A token exchanged from an API key called a procedure its key may not call (the key's
  // scopes do not name it, or it needs the person signed in: docs/policy.md, "API key").
  'api_key_not_allowed',
] as const;
export type ForbiddenReason = (typeof FORBIDDEN_REASONS)[number];

/** Extra fields of error.data beyond tRPC's defaults. */
export interface AppErrorData {
  reason?: ForbiddenReason;
  required?: string;
  retryAfterSeconds?: number;
  /** mfa_required: the token auth.mfa.completeLogin takes. */
  challengeToken?: string;
  /** mfa_required: the kinds of factor the account can complete the sign-in with. */
  factors?: string[];
  zodError?: { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> } | null;
}
