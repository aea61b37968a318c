// The server the benchmark drives (a child process of bench/run.ts), in one of two modes:
// - `raw`: a bare node:http server answering ~300 B of JSON: the machine's HTTP ceiling;
// - `app`: the real product server (createDeps + buildServer, TRPC_PATH from the
//   environment) plus, at /bench/trpc, a bench-only router that is never part of the
//   product: the typical 2-query procedure and the capacity plan's "before" design
//   (8 queries per request). Also GET /bench/stats: SQL statements issued, RSS, and
//   the verified-token cache. Refuses to run with NODE_ENV=production.
import { createServer } from 'node:http';
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { type Db, onQuery } from '../db/client.ts';
import {
  features,
  moodEntries,
  permissions,
  planFeatures,
  plans,
  rolePermissions,
  roles,
  subscriptions,
  users,
} from '../db/schema/index.ts';
import { buildServer } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { closeDeps, createDeps } from '../server/create-services.ts';
import { leanOptions, mountTrpc, officialOptions } from '../server/http/trpc.ts';
import { appRouter } from '../server/routers/index.ts';
import { protectedProcedure, router } from '../server/trpc/init.ts';
import { procedures } from '../server/trpc/invoke.ts';

const mode = process.argv[2] ?? 'app';
/** This process's CPU time so far (user + system, every thread), in microseconds. */
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const port = Number(process.env.PORT ?? 3100);

if (mode === 'raw') {
  // ~300 bytes, the size of a typical small tRPC answer (auth.me is ~330 B).
  const body = JSON.stringify({
    result: {
      data: {
        json: {
          id: '6f1d3a4e-5b7c-4d2e-9f10-1a2b3c4d5e6f',
          email: 'bench1@bench.example',
          role: 'patient',
          privilegeLevel: 10,
          permissions: ['mood.read', 'mood.write', 'profile.read'],
          features: ['assessments', 'mood_tracking'],
          plan: 'free',
          expiresAt: '2026-11-27T06:15:00.000Z',
        },
      },
    },
  });
  const server = createServer((req, res) => {
    if (req.url === '/bench/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ queries: 0, rss: process.memoryUsage().rss, cpuUs: cpuUs() }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 72_000;
  server.listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
} else {
  const config = loadConfig();
  if (config.NODE_ENV === 'production') throw new Error('bench/server.ts refuses NODE_ENV=production');
  const deps = await createDeps(config);
  const db = deps.db;

  // The two business queries of a typical procedure: the caller's latest mood entries and
  // their subscription. Built per call (what Drizzle does by default) or prepared once.
  const latestMood = (d: Db, userId: string) =>
    d
      .select({ id: moodEntries.id, score: moodEntries.score, createdAt: moodEntries.createdAt })
      .from(moodEntries)
      .where(eq(moodEntries.userId, userId))
      .orderBy(desc(moodEntries.createdAt), desc(moodEntries.id))
      .limit(20);
  const subscriptionOf = (d: Db, userId: string) =>
    d
      .select({ plan: plans.code, status: subscriptions.status, periodEnd: subscriptions.currentPeriodEnd })
      .from(subscriptions)
      .innerJoin(plans, eq(plans.id, subscriptions.planId))
      .where(eq(subscriptions.userId, userId));
  const preparedMood = db
    .select({ id: moodEntries.id, score: moodEntries.score, createdAt: moodEntries.createdAt })
    .from(moodEntries)
    .where(eq(moodEntries.userId, sql.placeholder('userId')))
    .orderBy(desc(moodEntries.createdAt), desc(moodEntries.id))
    .limit(20)
    .prepare('bench_latest_mood');
  const preparedSubscription = db
    .select({ plan: plans.code, status: subscriptions.status, periodEnd: subscriptions.currentPeriodEnd })
    .from(subscriptions)
    .innerJoin(plans, eq(plans.id, subscriptions.planId))
    .where(eq(subscriptions.userId, sql.placeholder('userId')))
    .prepare('bench_subscription_of');

  const typicalMeta = { auth: 'user', permission: 'mood.read', feature: 'mood_tracking' } as const;
  const benchRouter = router({
    /** Today's design: claims from the token (0 queries), 2 business queries. */
    typical: protectedProcedure.meta(typicalMeta).query(async ({ ctx }) => {
      const [mood, [sub]] = await Promise.all([
        latestMood(db, ctx.auth.sub),
        subscriptionOf(db, ctx.auth.sub),
      ]);
      return { mood, subscription: sub ?? null };
    }),
    /** The same with prepared statements. */
    typicalPrepared: protectedProcedure.meta(typicalMeta).query(async ({ ctx }) => {
      const userId = ctx.auth.sub;
      const [mood, [sub]] = await Promise.all([
        preparedMood.execute({ userId }),
        preparedSubscription.execute({ userId }),
      ]);
      return { mood, subscription: sub ?? null };
    }),
    /**
     * The capacity plan's "before" design: the token only names the user; every request
     * touches the session, reads role, permissions and features, the subscription and
     * the plan's features from the database (6 queries), then the same 2 business queries.
     */
    before: protectedProcedure.query(async ({ ctx }) => {
      const userId = ctx.auth.sub;
      await db.update(users).set({ lastLoginAt: new Date() }).where(eq(users.id, userId));
      const [user] = await db
        .select({ roleId: users.roleId, role: roles.name, privilegeLevel: roles.privilegeLevel })
        .from(users)
        .innerJoin(roles, eq(roles.id, users.roleId))
        .where(eq(users.id, userId));
      if (!user) throw new Error('bench user missing');
      const perms = await db
        .select({ name: permissions.name })
        .from(rolePermissions)
        .innerJoin(permissions, eq(permissions.id, rolePermissions.permissionId))
        .where(eq(rolePermissions.roleId, user.roleId));
      const [sub] = await db
        .select({ planId: subscriptions.planId, status: subscriptions.status })
        .from(subscriptions)
        .where(and(eq(subscriptions.userId, userId), eq(subscriptions.status, 'active')));
      const [plan] = await db
        .select({ id: plans.id, code: plans.code })
        .from(plans)
        .where(sub ? eq(plans.id, sub.planId) : eq(plans.code, 'free'));
      const feats = await db
        .select({ code: features.code })
        .from(planFeatures)
        .innerJoin(features, eq(features.id, planFeatures.featureId))
        .where(eq(planFeatures.planId, plan!.id))
        .orderBy(asc(features.code));
      if (!perms.some((p) => p.name === 'mood.read') || !feats.some((f) => f.code === 'mood_tracking'))
        throw new Error('bench user lacks access');
      const mood = await latestMood(db, userId);
      const [s] = await subscriptionOf(db, userId);
      return { mood, subscription: s ?? null };
    }),
  });

  let queries = 0;
  onQuery((scope) => {
    // Not a timer's resync or poll (inBackground): the statements requests make.
    if (!scope?.background) queries += 1;
  });
  const app = await buildServer(deps);
  await mountTrpc(
    app,
    config.TRPC_PATH,
    officialOptions(deps, benchRouter),
    leanOptions(deps, benchRouter),
    '/bench/trpc',
  );
  app.get('/bench/stats', async () => ({
    queries,
    cpuUs: cpuUs(),
    rss: process.memoryUsage().rss,
    heapUsed: process.memoryUsage().heapUsed,
    tokenCache: deps.tokens.cacheStats,
    procedures: procedures(appRouter).map((p) => p.path),
  }));
  // For the idle-connection measurement: RSS after a full collection (node --expose-gc).
  app.get('/bench/gc', async () => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external };
  });
  await app.listen({ port, host: '127.0.0.1' });
  console.log(`ready ${port}`);
  const stop = async () => {
    await app.close();
    await closeDeps(deps);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}
