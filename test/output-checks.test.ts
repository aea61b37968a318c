// .output() schemas are checked where the context asks for it (server/trpc/init.ts
// deferOutputChecks): not on /trpc by default, tRPC's own check on REST, the check and no
// undeclared field with OUTPUT_VALIDATION=all (the tests). Procedures that cannot defer
// (no meta of their own, not built on our procedures) keep tRPC's check.
import { initTRPC, TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AccessClaims } from '../server/auth/tokens.ts';
import { appRouter } from '../server/routers/index.ts';
import type { AppDeps } from '../server/services.ts';
import { type Context, createContextInner } from '../server/trpc/context.ts';
import { createCallerFactory, protectedProcedure, publicProcedure, router } from '../server/trpc/init.ts';
import { deferOutputChecks, procedures } from '../server/trpc/invoke.ts';

const output = z.object({ id: z.string(), at: z.date() });
const at = new Date('2026-01-02T03:04:05.000Z');
const testRouter = router({
  exact: publicProcedure
    .meta({ auth: 'public' })
    .output(output)
    .query(() => ({ id: 'a', at })),
  extra: publicProcedure
    .meta({ auth: 'public' })
    .output(output)
    .query(() => ({ id: 'a', at, secret: 's' }) as { id: string; at: Date }),
  wrong: protectedProcedure
    .meta({ auth: 'user' })
    .output(output)
    .query(() => ({ id: 1, at }) as unknown as { id: string; at: Date }),
  noMeta: publicProcedure
    .output(output)
    .query(() => ({ id: 'a', at, secret: 's' }) as { id: string; at: Date }),
});

const deps = {
  config: { PRIVACY_NOTICE_VERSION: 'v1', OUTPUT_VALIDATION: 'rest' },
  hooks: {},
} as unknown as AppDeps;
const claims = { sub: 'u1', privacyNotice: 'v1', permissions: [], features: [] } as unknown as AccessClaims;
const caller = (outputCheck: Context['outputCheck']) =>
  createCallerFactory(testRouter)({ ...createContextInner({ deps, auth: claims }), outputCheck });

describe('output checks on demand', () => {
  it('the context says where: off by default, strict with OUTPUT_VALIDATION=all', () => {
    expect(createContextInner({ deps }).outputCheck).toBe('off');
    const all = { ...deps, config: { ...deps.config, OUTPUT_VALIDATION: 'all' } } as unknown as AppDeps;
    expect(createContextInner({ deps: all }).outputCheck).toBe('strict');
  });

  it("takes tRPC's output level out of the chain, keeping the schema for OpenAPI and types", () => {
    const all = [...procedures(testRouter), ...procedures(appRouter)];
    const withOutput = all.filter((p) => p.output !== undefined);
    expect(withOutput.length).toBeGreaterThan(20);
    const kept = withOutput.filter((p) => !p.outputCheckDeferred);
    expect(kept.map((p) => p.path)).toEqual(['noMeta']);
  });

  it("off: the resolver's result as it is (no parse)", async () => {
    await expect(caller('off').extra()).resolves.toEqual({ id: 'a', at, secret: 's' });
    await expect(caller('off').wrong()).resolves.toEqual({ id: 1, at });
  });

  it("parse (REST): tRPC's check, undeclared fields dropped, a wrong type a 500", async () => {
    await expect(caller('parse').exact()).resolves.toEqual({ id: 'a', at });
    await expect(caller('parse').extra()).resolves.toEqual({ id: 'a', at });
    const error = await caller('parse')
      .wrong()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect(error).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: 'Output validation failed' });
  });

  it('strict (OUTPUT_VALIDATION=all): an undeclared field fails the call as well', async () => {
    await expect(caller('strict').exact()).resolves.toEqual({ id: 'a', at });
    await expect(caller('strict').extra()).rejects.toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      message: 'Output validation failed',
    });
  });

  it('a procedure without meta of its own keeps tRPC check whatever the context', async () => {
    await expect(caller('off').noMeta()).resolves.toEqual({ id: 'a', at });
  });

  it('leaves procedures not built on publicProcedure/protectedProcedure to tRPC', async () => {
    const t = initTRPC.create();
    const plain = deferOutputChecks(
      t.router({
        p: t.procedure
          .meta({})
          .output(output)
          .query(() => ({ id: 'a', at, x: 1 }) as never),
      }),
    );
    expect(procedures(plain)[0]).toMatchObject({ path: 'p', outputCheckDeferred: false });
    await expect(t.createCallerFactory(plain)({}).p()).resolves.toEqual({ id: 'a', at });
  });
});
