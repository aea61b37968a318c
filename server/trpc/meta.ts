// The access policy each procedure declares with .meta({...}), and the REST route its path
// and type give it. Every check reads the token's claims alone: zero queries.
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
   * How the operation reads in /openapi.json (server/http/rest.ts). Every query and mutation
   * is served over REST whether or not it has this (restRoute below); the document fills
   * what is absent from the path and the policy. An `.output()` schema (shared/outputs.ts)
   * gives the document the answer's shape; without one it says only "JSON".
   */
  openapi?: {
    /** One line (default: the procedure's path). */
    summary?: string;
    /** Beyond the summary (the policy the document derives is appended to it). */
    description?: string;
    /** Statuses this procedure sends besides the ones every call may (412: payments off). */
    errors?: readonly (404 | 409 | 412)[];
  };
  /**
   * Keeps a query or mutation off REST, with the reason (docs/api.md, "REST"); the guard test
   * (test/rest-routes.test.ts) lists the ones that are. Subscriptions never are (SSE on /trpc).
   */
  restOff?: string;
}

/**
 * A procedure's REST route, derived from its path and type: a query is `GET /<path with dots
 * as slashes>` (input in the query string), a mutation `POST` (JSON body), under /api;
 * null for a subscription or a procedure with `restOff`.
 */
export function restRoute(
  path: string,
  type: 'query' | 'mutation' | 'subscription',
  meta: Meta | undefined,
): { method: 'GET' | 'POST'; path: `/${string}` } | null {
  if (type === 'subscription' || meta?.restOff !== undefined) return null;
  return { method: type === 'query' ? 'GET' : 'POST', path: `/${path.replaceAll('.', '/')}` };
}
