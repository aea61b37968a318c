// A procedure's contract: its policy (meta), its input and its output schema, declared
// together, one file per router file: the contracts of server/routers/<file>.ts are in
// shared/contracts/<file>.ts (a procedure's path names both: admin.users.list →
// server/routers/admin/users.ts and shared/contracts/admin/users.ts). The router wires each
// contract to its use case: `.meta(c.meta).input(c.input).output(c.output)`. Nothing here
// imports server code: a client takes the schemas (and RouterOutputs follows them).
//
// Output schemas: dates are Date objects; over REST they travel as ISO 8601 strings (format
// date-time), over /trpc as superjson dates. A REST answer is parsed by its schema (a field
// missing from it is dropped); a /trpc answer is not (server/trpc/invoke.ts
// deferOutputChecks). The tests run with OUTPUT_VALIDATION=all: every answer is checked and
// one carrying a field its schema does not declare fails.
import type { z } from 'zod';
import type { Feature, Permission } from './catalog.ts';

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
   * How the operation reads in /openapi.json (server/http/openapi.ts). Every query and
   * mutation is served over REST whether or not it has this (restRoute in
   * server/trpc/meta.ts); the document fills what is absent from the path and the policy,
   * and describes the answer by the procedure's output schema.
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

/** A query's or mutation's contract. */
export interface Contract {
  meta: Meta;
  /** Absent: the procedure takes no input. */
  input?: z.ZodType;
  output: z.ZodType;
}

/**
 * A subscription's contract: its events' schema instead of an output (tRPC does not check
 * what a subscription yields; crisis.onChange's events are tracked, their id the SSE id).
 */
export interface SubscriptionContract {
  meta: Meta;
  input?: z.ZodType;
  event: z.ZodType;
}

/** A router file's contracts, by procedure name (a nested router: nested). */
export interface Contracts {
  [name: string]: Contract | SubscriptionContract | Contracts;
}
