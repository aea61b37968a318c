// The access policy each procedure declares with .meta({...}) (types only). Every check
// reads the token's claims alone: zero queries.
import type { Feature, Permission } from '../../shared/catalog.ts';

export interface Meta {
  /** Who may call: anyone, or an authenticated caller (then permission and feature apply). */
  auth: 'public' | 'user';
  permission?: Permission;
  feature?: Feature;
  /**
   * Input fields only holders of a permission may give, e.g. the therapist directory
   * fields of users.updateProfile: { 'sessions.manage': ['feePaise', ...] }.
   */
  fieldPermissions?: Partial<Record<Permission, readonly string[]>>;
  /**
   * Only for a caller whose address is confirmed (the token's emailVerified claim):
   * payments, data export, API keys (docs/api.md, "Confirmed addresses").
   */
  verifiedEmail?: boolean;
  /**
   * Callable before the user has accepted the current privacy notice (auth.* and privacy.*
   * procedures); every other authenticated procedure refuses with privacy_notice_required.
   */
  beforeConsent?: boolean;
  /**
   * Callable by a session without a second factor although the caller's permissions need
   * one (FACTOR_REQUIRED_PERMISSIONS): auth.me and setting a factor up. Every other
   * procedure refuses such a session with factor_required (docs/decisions/staff-mfa.md).
   */
  beforeFactor?: boolean;
  /**
   * Step-up: needs a second factor verified in the last STEP_UP_SECONDS (the token's amr and
   * auth_time: zero queries), else FORBIDDEN step_up_required. `{ when, test }` asks it only
   * for the inputs `test` picks; `when` describes them in the policy table.
   */
  stepUp?: true | { when: string; test: (input: unknown) => boolean };
  /**
   * What a token that descends from an API key may do here (its permissions are the key's
   * scopes; claims.apiKey marks it). Absent: only a procedure with a `permission` (which the
   * key's scopes must then name); sign-in-only procedures refuse key tokens. `'any'`: every
   * key token (reads of the token itself). A list of permissions: key tokens whose scopes name
   * one of them. `'never'`: no key token, whatever its scopes. Refusals: api_key_not_allowed.
   */
  apiKey?: 'any' | 'never' | readonly Permission[];
  /** Which rate-limit policy counts this call (default: 'general'). */
  rateLimit?: 'general' | 'login' | 'register' | 'checkout' | 'none';
  /**
   * Also served over REST under /api (server/http/rest.ts) and described in /openapi.json:
   * a query as GET with its input in the query string, a mutation as POST with a JSON body,
   * at the procedure's path with dots as slashes (mood.log → POST /api/mood/log). The shape
   * of trpc-to-openapi's OpenApiMeta['openapi'], whose generator reads it; the procedure
   * then needs an .output() schema (shared/outputs.ts).
   */
  openapi?: {
    method: 'GET' | 'POST';
    path: `/${string}`;
    summary?: string;
    tags?: string[];
    /** Needs a bearer token (default true); false for auth: 'public'. */
    protect?: boolean;
  };
}
