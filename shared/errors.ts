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
  zodError?: { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> } | null;
}
