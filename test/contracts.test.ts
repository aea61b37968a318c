// Every procedure's contract — meta, input, output — is declared in one place:
// shared/contracts/<the router's file>.ts, and the router takes all three from it. Every query
// and mutation has an output schema (the subscription: its event schema). The schemas hold
// for real answers: the tests run with OUTPUT_VALIDATION=all (strict checks, vitest.config.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { appRouter } from '../server/routers/index.ts';
import { sessionRouter } from '../server/routers/session.ts';
import { procedures } from '../server/trpc/invoke.ts';
import type { Contract, Contracts, SubscriptionContract } from '../shared/contract.ts';
import { adminAuditContract } from '../shared/contracts/admin/audit.ts';
import { adminJobsContract } from '../shared/contracts/admin/jobs.ts';
import { adminUsersContract } from '../shared/contracts/admin/users.ts';
import { adminViewsContract } from '../shared/contracts/admin/views.ts';
import { analyticsContract } from '../shared/contracts/analytics.ts';
import { apiKeysContract } from '../shared/contracts/api-keys.ts';
import { assessmentsContract } from '../shared/contracts/assessments.ts';
import { mfaContract } from '../shared/contracts/auth/mfa.ts';
import { sessionsContract } from '../shared/contracts/auth/sessions.ts';
import { authContract } from '../shared/contracts/auth.ts';
import { crisisContract } from '../shared/contracts/crisis/index.ts';
import { onCallContract } from '../shared/contracts/crisis/on-call.ts';
import { exportContract } from '../shared/contracts/export.ts';
import { insightsContract } from '../shared/contracts/insights.ts';
import { moodContract } from '../shared/contracts/mood.ts';
import { privacyContract } from '../shared/contracts/privacy.ts';
import { reportsContract } from '../shared/contracts/reports.ts';
import { sessionContract } from '../shared/contracts/session.ts';
import { subscriptionsContract } from '../shared/contracts/subscriptions.ts';
import { supportContract } from '../shared/contracts/support.ts';
import { therapistsContract } from '../shared/contracts/therapists.ts';
import { therapyContract } from '../shared/contracts/therapy.ts';
import { usersContract } from '../shared/contracts/users.ts';

const ROOT = join(import.meta.dirname, '..');

/** The contracts as appRouter composes its routers (server/routers/index.ts). */
const appContracts: Contracts = {
  auth: { ...authContract, mfa: mfaContract, ...sessionsContract },
  users: usersContract,
  subscriptions: subscriptionsContract,
  mood: moodContract,
  assessments: assessmentsContract,
  therapists: therapistsContract,
  therapy: therapyContract,
  crisis: { ...crisisContract, onCall: onCallContract },
  admin: {
    users: adminUsersContract,
    views: adminViewsContract,
    audit: adminAuditContract,
    jobs: adminJobsContract,
  },
  analytics: analyticsContract,
  export: exportContract,
  insights: insightsContract,
  support: supportContract,
  apiKeys: apiKeysContract,
  reports: reportsContract,
  privacy: privacyContract,
};

function contractAt(contracts: Contracts, path: string): Contract | SubscriptionContract | undefined {
  let at: Contracts[string] | undefined = contracts;
  for (const name of path.split('.')) at = at && !('meta' in at) ? (at as Contracts)[name] : undefined;
  return at && 'meta' in at ? (at as Contract | SubscriptionContract) : undefined;
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.replaceAll('\\', '/'))
    .sort();
}

describe('procedure contracts', () => {
  for (const [name, router, contracts] of [
    ['appRouter', appRouter, appContracts],
    ['sessionRouter', sessionRouter, { ...sessionContract }],
  ] as const) {
    it(`${name}: each procedure takes its meta, input and output from its contract`, () => {
      const all = procedures(router);
      expect(all.length).toBeGreaterThan(0);
      for (const p of all) {
        const c = contractAt(contracts, p.path);
        expect(c, p.path).toBeDefined();
        expect(p.meta, p.path).toBe(c!.meta);
        expect(p.input, p.path).toBe(c!.input);
        if (p.type === 'subscription') {
          expect('event' in c! && c.event instanceof z.ZodType, p.path).toBe(true);
          expect(p.output, p.path).toBeUndefined();
        } else {
          expect(p.output, p.path).toBeInstanceOf(z.ZodType);
          expect(p.output, p.path).toBe((c as Contract).output);
        }
      }
    });
  }

  it('every procedure has a meta object of its own (its output check can be deferred)', () => {
    const metas = procedures(appRouter).map((p) => p.meta);
    expect(new Set(metas).size).toBe(metas.length);
    expect(procedures(appRouter).filter((p) => p.output && !p.outputCheckDeferred)).toEqual([]);
  });

  it('mirrors the routers: shared/contracts/<file>.ts for server/routers/<file>.ts, imported by it', () => {
    const routers = tsFiles('server/routers').filter((f) => f !== 'index.ts' && f !== 'admin/index.ts');
    const contracts = tsFiles('shared/contracts').filter((f) => f !== 'common.ts');
    expect(contracts).toEqual(routers);
    for (const file of routers) {
      const source = readFileSync(join(ROOT, 'server/routers', file), 'utf8');
      const own = relative(join(ROOT, 'server/routers', file, '..'), join(ROOT, 'shared/contracts', file));
      expect(source, file).toContain(`from '${own.replaceAll('\\', '/')}'`);
      // The policy is the contract's: no meta object literal in a router.
      expect(source, file).not.toMatch(/\.meta\(\{/);
    }
  });

  it('shared/ imports nothing of the server (a client bundles it as it is)', () => {
    for (const file of tsFiles('shared').filter((f) => f !== 'index.ts')) {
      const source = readFileSync(join(ROOT, 'shared', file), 'utf8');
      expect(source, file).not.toMatch(/from '(\.\.\/)+(server|db)\//);
    }
  });
});
