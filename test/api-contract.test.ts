// docs/api.md is the contract clients build against: every procedure of the router is in it
// with the access and feature it states, every procedure it lists exists, and every
// configuration variable the server reads is documented (README table and .env.example).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../server/config.ts';
import { appRouter } from '../server/routers/index.ts';
import { policyRows } from '../server/trpc/policy.ts';
import { ACCESS_ACTIONS } from '../shared/audit.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

interface DocumentedProcedure {
  path: string;
  type: string;
  access: string;
  feature: string;
}

/** Rows of the procedure tables: | `path` | kind | access | feature | input → output | */
function documentedProcedures(markdown: string): DocumentedProcedure[] {
  const row = /^\|\s*`([a-zA-Z0-9.]+)`\s*\|\s*(query|mutation|subscription)\s*\|([^|]*)\|([^|]*)\|/;
  return markdown
    .split('\n')
    .map((line) => row.exec(line))
    .filter((m) => m !== null)
    .map(([, path, type, access, feature]) => ({
      path: path!,
      type: type!,
      access: access!.trim().replaceAll('`', ''),
      feature: feature!.trim().replaceAll('`', ''),
    }));
}

/** What the router declares, in the document's words. */
function declared(): DocumentedProcedure[] {
  return policyRows(appRouter).map(({ path, type, meta }) => ({
    path,
    type,
    access: meta?.auth === 'public' ? 'public' : (meta?.permission ?? 'authenticated'),
    feature: meta?.feature ?? '',
  }));
}

const byPath = (a: DocumentedProcedure, b: DocumentedProcedure) => a.path.localeCompare(b.path);

describe('docs/api.md, the contract', () => {
  const documented = documentedProcedures(read('docs/api.md'));

  it('marks exactly the audited reads (shared/audit.ts ACCESS_ACTIONS) **audited read**', () => {
    const marked = read('docs/api.md')
      .split('\n')
      .filter((line) => /^\|\s*`[a-zA-Z0-9.]+`/.test(line) && line.includes('**audited read**'))
      .map((line) => /`([a-zA-Z0-9.]+)`/.exec(line)![1]);
    expect(marked.sort()).toEqual(Object.keys(ACCESS_ACTIONS).sort());
    expect(documented.map((d) => d.path)).toContain('privacy.accessLog');
  });

  it('lists every procedure once', () => {
    const paths = documented.map((d) => d.path);
    expect(paths.filter((p, i) => paths.indexOf(p) !== i)).toEqual([]);
    expect(paths.length).toBeGreaterThanOrEqual(34);
  });

  it('states each procedure with the kind, access and feature the router enforces', () => {
    expect([...documented].sort(byPath)).toEqual(declared().sort(byPath));
  });

  it('the parser reads the tables: a procedure dropped from the document is noticed', () => {
    const markdown = read('docs/api.md')
      .split('\n')
      .filter((line) => !line.startsWith('| `auth.me`'))
      .join('\n');
    expect(documentedProcedures(markdown).map((d) => d.path)).not.toContain('auth.me');
    expect(declared().map((d) => d.path)).toContain('auth.me');
  });
});

describe('configuration', () => {
  const variables = Object.keys(configSchema.shape);

  it('every variable the server reads is in the README table and in .env.example', () => {
    const readme = read('README.md');
    const example = read('.env.example');
    expect(variables.length).toBeGreaterThan(20);
    expect(variables.filter((v) => !readme.includes(`\`${v}\``))).toEqual([]);
    expect(variables.filter((v) => !new RegExp(`^#?\\s*${v}=`, 'm').test(example))).toEqual([]);
  });
});
