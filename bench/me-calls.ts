// auth.me called N times in one process through the router's caller: the call pipeline's
// middleware level (server/trpc/invoke.ts observed: policy from the claims, the deferred
// output check, metrics hooks) without HTTP, so a whole-process CPU time (e.g.
// `/usr/bin/time -v`) compares two checkouts without the load generator's noise:
//   node --import tsx bench/me-calls.ts <checkout root> [N=300000]
// (bench/results/issue25-contracts.md). No database: auth.me reads the token's claims.
import { resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const n = Number(process.argv[3] ?? 300_000);
const { appRouter } = await import(`${root}/server/routers/index.ts`);
const { createContextInner } = await import(`${root}/server/trpc/context.ts`);
const { createCallerFactory } = await import(`${root}/server/trpc/init.ts`);

const deps = { config: { PRIVACY_NOTICE_VERSION: 'v1', OUTPUT_VALIDATION: 'rest' }, hooks: {} };
const claims = {
  sub: 'u1',
  sid: 's1',
  email: 'a@example.com',
  role: 'patient',
  privilegeLevel: 10,
  permissions: ['mood.read'],
  features: [],
  plan: 'free',
  privacyNotice: 'v1',
  emailVerified: true,
  exp: Math.floor(Date.now() / 1000) + 900,
  amr: ['pwd'],
};
const caller = createCallerFactory(appRouter)(createContextInner({ deps, auth: claims }));
let length = 0;
for (let i = 0; i < n; i++) length += (await caller.auth.me()).id.length;
if (length !== 2 * n) throw new Error('auth.me answered something else');
console.log(`${n} auth.me calls`);
