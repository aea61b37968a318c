// Writes docs/policy.md, the access policy of every procedure, from the router's .meta().
import { writeFileSync } from 'node:fs';
import { appRouter } from '../server/routers/index.ts';
import { renderPolicyTable } from '../server/trpc/policy.ts';

const target = new URL('../docs/policy.md', import.meta.url);
writeFileSync(target, renderPolicyTable(appRouter));
console.log(`wrote ${target.pathname}`);
