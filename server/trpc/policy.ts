// The access policy of a router as data: one row per procedure, read from its .meta().
// scripts/policy-table.ts writes it to docs/policy.md; a test keeps that file current.
import type { AnyTRPCRouter } from '@trpc/server';
import { type ProcedureInfo, procedures } from './invoke.ts';
import { type Meta, restRoute } from './meta.ts';

export interface PolicyRow {
  path: string;
  type: ProcedureInfo['type'];
  meta: Meta | undefined;
}

/** Every procedure of the router, flattened by path, in path order. */
export function policyRows(router: AnyTRPCRouter): PolicyRow[] {
  return procedures(router)
    .map(({ path, type, meta }) => ({ path, type, meta }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** The policy table as Markdown (docs/policy.md). */
export function renderPolicyTable(router: AnyTRPCRouter): string {
  const lines = [
    '# Access policy',
    '',
    'Generated from the router by `npm run docs:policy` (server/trpc/policy.ts); do not edit by',
    'hand: a test fails when this file differs from what the router declares.',
    '',
    'Authentication `user` needs a valid, unrevoked access token; the permission and feature',
    "are checked against the token's claims (zero queries). A field permission refuses the",
    'named input fields to callers without that permission. Every `user` procedure also needs',
    'the current privacy notice accepted (a claim), except those marked "before consent", and,',
    'when its permissions read health data or administer accounts, a session signed in with a',
    'second factor (the amr claim), except those marked "before factor". Step-up: a second',
    'factor verified in the last 15 minutes (amr and auth_time claims), else FORBIDDEN',
    'step_up_required.',
    "API key: what a token exchanged from an API key may call (its permissions are the key's scopes):",
    '"scoped" when its scopes include the permission; "any" every key token; "any of" a list: when',
    'its scopes include one of them; "never" no key token (sign-in-only procedures by default).',
    'Rate limits: see server/limits. REST: also served at this method and path (server/http/rest.ts,',
    'described in GET /openapi.json): every query and mutation; subscriptions stay SSE on /trpc.',
    '',
    '| procedure | type | authentication | permission | feature | field permissions | step-up | API key | rate limit | REST |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const { path, type, meta } of policyRows(router)) {
    const fields = Object.entries(meta?.fieldPermissions ?? {})
      .map(([permission, names]) => `${(names ?? []).join(', ')} → ${permission}`)
      .join('; ');
    const before = [meta?.beforeConsent && 'before consent', meta?.beforeFactor && 'before factor'].filter(
      Boolean,
    );
    const stepUp = meta?.stepUp === true ? 'yes' : meta?.stepUp ? `yes, ${meta.stepUp.when}` : '';
    const cells = [
      `\`${path}\``,
      type,
      before.length ? `${meta!.auth} (${before.join(', ')})` : (meta?.auth ?? 'MISSING'),
      meta?.permission ?? '',
      meta?.feature ?? '',
      fields,
      stepUp,
      apiKeyCell(meta),
      meta?.rateLimit ?? 'general',
      restCell(path, type, meta),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** The REST column: the derived route (restRoute), or why the procedure is not on REST. */
function restCell(path: string, type: ProcedureInfo['type'], meta: Meta | undefined): string {
  const route = restRoute(path, type, meta);
  if (route) return `${route.method} /api${route.path}`;
  return type === 'subscription' ? 'no (SSE on /trpc)' : `no: ${meta?.restOff}`;
}

/** The API key column: what a key's token may call (Meta['apiKey']); empty for public procedures. */
function apiKeyCell(meta: Meta | undefined): string {
  if (meta?.auth !== 'user') return '';
  const rule = meta.apiKey;
  if (rule === 'any' || rule === 'never') return rule;
  if (rule) return `any of ${rule.join(', ')}`;
  return meta.permission ? 'scoped' : 'never';
}
