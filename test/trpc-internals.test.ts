// tRPC's internals are read in one module, server/trpc/invoke.ts (the call pipeline): this
// names the tRPC versions it was checked against, checks that what it relies on still
// behaves as tRPC's own caller does, and keeps `_def` and tRPC's unstable import out of
// every other file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { initTRPC, TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { appRouter } from '../server/routers/index.ts';
import {
  callProcedure,
  hasLazyRouters,
  procedureAt,
  procedures,
  procedureType,
  TRPC_VERSIONS_CHECKED,
} from '../server/trpc/invoke.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const versionOf = (pkg: string) =>
  (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;

/** The project's own sources (not node_modules, not build output). */
function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|tsx|mts|cts|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

describe('tRPC internals', () => {
  it(`@trpc/server and @trpc/client are a version invoke.ts was checked against (${TRPC_VERSIONS_CHECKED.join(', ')})`, () => {
    // On a new version: read procedureBuilder.ts (createProcedureCaller, callRecursive) and
    // router.ts (_def.procedures, _def.lazy, _def._config) of it, compare with invoke.ts,
    // run this file and test/lean-differential.test.ts, then add the version.
    expect(TRPC_VERSIONS_CHECKED).toContain(versionOf('@trpc/server'));
    expect(TRPC_VERSIONS_CHECKED).toContain(versionOf('@trpc/client'));
  });

  it('nothing but server/trpc/invoke.ts reads _def or imports @trpc/server/unstable-core-do-not-import', () => {
    const self = relative(ROOT, new URL(import.meta.url).pathname);
    const allowed = new Set(['server/trpc/invoke.ts', self]);
    const offenders: string[] = [];
    for (const dir of ['server', 'shared', 'test', 'bench', 'scripts', 'packages', 'web', 'examples', 'db'])
      for (const file of sources(join(ROOT, dir))) {
        const path = relative(ROOT, file);
        if (allowed.has(path)) continue;
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (/\b_def\b|unstable-core-do-not-import/.test(line))
              offenders.push(`${path}:${i + 1}: ${line.trim()}`);
          });
      }
    expect(offenders).toEqual([]);
  });

  // A router whose middlewares use every option of next(): ctx (merged), input, getRawInput,
  // a throw, and tRPC's own .input() and .output() levels.
  const t = initTRPC.context<{ user: string; n: number }>().meta<{ tag?: string }>().create();
  const seen: unknown[] = [];
  const base = t.procedure
    .use(({ ctx, next, meta, path, type }) => {
      seen.push({ meta, path, type });
      return next({ ctx: { n: ctx.n + 1 } });
    })
    .use(async ({ next, getRawInput }) => {
      const raw = (await getRawInput()) as { x?: number } | undefined;
      if (raw?.x === 13) throw new TRPCError({ code: 'FORBIDDEN', message: 'unlucky' });
      return next({ getRawInput: async () => ({ x: (raw?.x ?? 0) * 2 }) });
    });
  const probe = t.router({
    q: base
      .meta({ tag: 'q' })
      .input(z.object({ x: z.number() }))
      .output(z.object({ user: z.string(), n: z.number(), x: z.number() }))
      .query(({ ctx, input }) => ({ user: ctx.user, n: ctx.n, x: input.x })),
    m: base.mutation(({ ctx }) => ctx.n),
    bad: base.output(z.object({ ok: z.boolean() })).query(() => ({ ok: 'no' }) as never),
    nested: t.router({ deep: t.procedure.query(() => 'deep') }),
  });
  const ctx = { user: 'u1', n: 1 };

  async function both(path: string, input: unknown) {
    const proc = procedureAt(probe, path)!;
    const ours = await callProcedure(probe, proc, { path, ctx, getRawInput: async () => input }).then(
      (data) => ({ data }),
      (e: TRPCError) => ({ code: e.code, message: e.message }),
    );
    // biome-ignore lint/suspicious/noExplicitAny: walks the caller by a path only known at run time
    const callerFn = path.split('.').reduce((node: any, key) => node[key], t.createCallerFactory(probe)(ctx));
    const theirs = await (callerFn as (i: unknown) => Promise<unknown>)(input).then(
      (data) => ({ data }),
      (e: TRPCError) => ({ code: e.code, message: e.message }),
    );
    return { ours, theirs };
  }

  it("callProcedure answers as tRPC's own caller: ctx merges, input and getRawInput overrides, throws, checks", async () => {
    for (const [path, input] of [
      ['q', { x: 4 }],
      ['q', { x: 13 }],
      ['q', { x: 'no' }],
      ['m', undefined],
      ['bad', undefined],
      ['nested.deep', undefined],
    ] as const) {
      const { ours, theirs } = await both(path, input);
      expect(ours, path).toEqual(theirs);
    }
    expect((await both('q', { x: 4 })).ours).toEqual({ data: { user: 'u1', n: 2, x: 8 } });
    // Each middleware level saw the procedure's meta, path and type as tRPC gives them.
    expect(seen).toContainEqual({ meta: { tag: 'q' }, path: 'q', type: 'query' });
  });

  it('reads the procedure table: paths, types, meta and schemas; no lazy routers', () => {
    expect(procedureAt(probe, 'nested.deep')).not.toBeNull();
    expect(procedureAt(probe, 'nested')).toBeNull();
    expect(procedureAt(probe, 'toString')).toBeNull();
    expect(procedureType(procedureAt(probe, 'm')!)).toBe('mutation');
    expect(hasLazyRouters(appRouter)).toBe(false);
    const log = procedures(appRouter).find((p) => p.path === 'mood.log')!;
    expect(log).toMatchObject({ type: 'mutation', authenticated: true, meta: { auth: 'user' } });
    expect(log.input?.safeParse({ score: 5 }).success).toBe(true);
    expect(procedures(appRouter).length).toBeGreaterThan(50);
  });
});
