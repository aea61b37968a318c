// Every procedure declares its access in .meta(), the declaration matches the builder
// it uses (the protected builder's middleware runs exactly for auth: 'user'), and docs/policy.md is what the
// router declares (regenerate with `npm run docs:policy`).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appRouter } from '../server/routers/index.ts';
import { procedures } from '../server/trpc/invoke.ts';
import { policyRows, renderPolicyTable } from '../server/trpc/policy.ts';

// Built on protectedProcedure, whose one middleware runs the policy (server/trpc/invoke.ts).
const authenticated = new Map(procedures(appRouter).map((p) => [p.path, p.authenticated]));

describe('access policy', () => {
  it('every procedure, public ones included, declares auth in .meta()', () => {
    const rows = policyRows(appRouter);
    expect(rows.length).toBeGreaterThanOrEqual(34); // the walk reaches every router (34 before the paid features)
    const missing = rows.filter((r) => r.meta?.auth !== 'public' && r.meta?.auth !== 'user');
    expect(missing.map((r) => r.path)).toEqual([]);
  });

  it('auth: user exactly where the protected middleware runs', () => {
    const mismatched = policyRows(appRouter).filter(
      (r) => (r.meta?.auth === 'user') !== authenticated.get(r.path),
    );
    expect(mismatched.map((r) => r.path)).toEqual([]);
  });

  it('docs/policy.md is generated from the router (npm run docs:policy)', () => {
    const committed = readFileSync(new URL('../docs/policy.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderPolicyTable(appRouter));
  });
});
