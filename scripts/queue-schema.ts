// Prints pg-boss's schema (the installed version's construction plan) as drizzle migration
// statements: one statement per `--> statement-breakpoint`, without the plan's own
// BEGIN/COMMIT (the migrator runs every migration in its transaction). Used to write
// migrations/0025_job_queue_email.sql; a pg-boss upgrade that changes its schema version
// needs a new migration from getMigrationPlans (docs/decisions/job-queue.md).
import { getConstructionPlans } from 'pg-boss';
import { QUEUE_SCHEMA } from '../server/jobs/queue.ts';

/** Splits SQL text at top-level semicolons (outside quotes and dollar-quoted bodies). */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'") {
      i = text.indexOf("'", i + 1) + 1;
      while (text[i] === "'") i = text.indexOf("'", i + 1) + 1;
      continue;
    }
    if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i))?.[0];
      if (tag) {
        i = text.indexOf(tag, i + tag.length) + tag.length;
        continue;
      }
    }
    if (c === ';') {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
    i++;
  }
  out.push(text.slice(start).trim());
  return out.filter((s) => s.length > 0);
}

const statements = splitStatements(getConstructionPlans(QUEUE_SCHEMA)).filter(
  (s) => !/^(BEGIN|COMMIT)$/i.test(s) && !/^SET LOCAL /i.test(s),
);
process.stdout.write(`${statements.join(';\n--> statement-breakpoint\n')};\n`);
