// Shared pieces of the fault tests: a Redis server of the test's own, free ports,
// percentiles, a token for any user id, and a router of procedures the tests control.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { queryRows } from '../../db/client.ts';
import { num } from '../../db/row.ts';
import { recordAudit } from '../../server/audit.ts';
import { DEFAULT_PRIVACY_NOTICE_VERSION } from '../../server/config.ts';
import type { AppDeps } from '../../server/services.ts';
import { publicProcedure, router } from '../../server/trpc/init.ts';
import type { AuditAction } from '../../shared/audit.ts';
import { canConnect } from '../support/net.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export const HAVE_REDIS_SERVER = spawnable('redis-server');
function spawnable(cmd: string): boolean {
  try {
    return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}

/** redis-server on a port of its own, in memory only; stop() kills it (SIGKILL: a crash). */
export async function startRedis(port: number): Promise<{ proc: ChildProcess; stop(): Promise<void> }> {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100; i++) {
    if (await canConnect(port)) break;
    await sleep(50);
  }
  return {
    proc,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** An access token for a (possibly made-up) patient id: auth.me needs no user row. */
export async function tokenFor(
  deps: AppDeps,
  id: string = randomUUID(),
  grants: { permissions?: string[]; features?: string[] } = {},
): Promise<string> {
  const { token } = await deps.tokens.sign(
    {
      id,
      email: `${id}@example.com`,
      role: 'patient',
      privilegeLevel: 10,
      permissions: grants.permissions ?? ['profile.read'],
      features: grants.features ?? ['mood_tracking'],
      plan: 'free',
      privacyNotice: DEFAULT_PRIVACY_NOTICE_VERSION,
    },
    randomUUID(),
  );
  return token;
}

/** Procedures the fault tests control: a write to acknowledge, and slow or timed-out queries. */
export const faultRouter = router({
  write: publicProcedure
    .meta({ auth: 'public', rateLimit: 'none' })
    .input(z.strictObject({ marker: z.string().max(100) }))
    .mutation(async ({ ctx, input }) => {
      await recordAudit(ctx.deps.db, {
        actorId: null,
        // A marker the fault test looks for, not one of the product's actions.
        action: 'fault.write' as AuditAction,
        details: { marker: input.marker },
      });
      return { ok: true };
    }),
  sleep: publicProcedure
    .meta({ auth: 'public', rateLimit: 'none' })
    .input(z.strictObject({ seconds: z.number().max(10) }))
    .query(async ({ ctx, input }) => {
      await ctx.deps.db.execute(sql`SELECT pg_sleep(${input.seconds})`);
      return { slept: input.seconds };
    }),
  /** A statement that overruns a 100 ms statement timeout, then the backend pid. */
  timeout: publicProcedure.meta({ auth: 'public', rateLimit: 'none' }).query(async ({ ctx }) => {
    await ctx.deps.db.transaction(async (tx) => {
      await tx.execute(sql`SET LOCAL statement_timeout = 100`);
      await tx.execute(sql`SELECT pg_sleep(1)`);
    });
    return 'unreachable';
  }),
  pid: publicProcedure.meta({ auth: 'public', rateLimit: 'none' }).query(async ({ ctx }) => {
    const [row] = await queryRows(ctx.deps.db, z.object({ pid: num }), sql`SELECT pg_backend_pid() AS pid`);
    return row!.pid;
  }),
});

/** vi.mock factory body: the app router plus `faults.*`. */
export async function withFaultRouter<T extends { appRouter: unknown }>(mod: T): Promise<T> {
  const { mergeRouters } = await import('../../server/trpc/init.ts');
  return {
    ...mod,
    appRouter: mergeRouters(mod.appRouter as ReturnType<typeof router>, router({ faults: faultRouter })),
  };
}
