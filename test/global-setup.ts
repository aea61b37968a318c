// Once per run, before any test file: says which real-service tests run and which are
// skipped, and makes the migrated templates every test database starts from (test/templates.ts).
import type { TestProject } from 'vitest/node';
import { ensurePgliteTemplate, ensurePostgresTemplate } from './templates.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the migrated PGlite data directory dump. */
    pgliteTemplate: string;
    /** Name of the migrated template database on DATABASE_URL's server ('' without one). */
    postgresTemplate: string;
  }
}

export default async function setup(project: TestProject) {
  const pg = process.env.DATABASE_URL
    ? `real PostgreSQL (${redact(process.env.DATABASE_URL)})`
    : 'PGlite only: real-PostgreSQL tests skipped (set DATABASE_URL)';
  const redis = process.env.REDIS_URL
    ? `real Redis (${process.env.REDIS_URL})`
    : 'no Redis: real-Redis tests skipped (set REDIS_URL)';
  console.log(`[tests] database: ${pg}\n[tests] redis: ${redis}`);
  const started = performance.now();
  const [pgliteTemplate, postgresTemplate] = await Promise.all([
    ensurePgliteTemplate(),
    process.env.DATABASE_URL ? ensurePostgresTemplate(process.env.DATABASE_URL) : '',
  ]);
  project.provide('pgliteTemplate', pgliteTemplate);
  project.provide('postgresTemplate', postgresTemplate);
  console.log(`[tests] migrated templates ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
function redact(url: string) {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
