// Fault: the PostgreSQL server restarts (`pg_ctl -m fast`) or crashes (SIGKILL of the
// postmaster) under write load, with two API hosts as production runs them (real child
// processes, `node --import tsx server/index.ts`, NODE_ENV=production): one connected
// directly, one behind PgBouncer in transaction mode (Debian's package). The PostgreSQL
// server, PgBouncer and Redis are the test's own (free ports, temporary directories):
// nothing touches the shared servers. Expected (issue 24): both processes stay up; while the
// database is away every request is answered, 503 with Retry-After; within 5 s of the
// database being back each host writes again; every acknowledged write is a row. And with
// PgBouncer PAUSEd for 15 s: every request answered within the call deadline (no hang).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../../db/client.ts';
import { generateNotesKeyEntry } from '../../server/crypto/notes.ts';
import { NOTICE } from '../helpers.ts';
import { trpcInput } from '../server.ts';
import { HAVE_PG_SERVER, type PgServer, startPgServer } from '../support/pg-server.ts';
import { PGBOUNCER, type PgBouncer, startPgBouncer } from '../support/pgbouncer.ts';
import { confirmRegistration } from '../support/register.ts';
import { freePort, HAVE_REDIS_SERVER, sleep, startRedis } from './support.ts';

/** How soon after the database is back each host must write again (issue 24). */
const RECOVERY_BOUND_S = 5;
/** Longer than the call deadline (DATABASE_CALL_TIMEOUT_MS, 10 s). */
const PAUSE_S = 15;

interface Host {
  name: string;
  url: string;
  proc: ChildProcess;
  log: string;
}
interface Sample {
  host: string;
  at: number;
  /** 0: no answer (connection refused or reset, or no answer within 15 s). */
  status: number;
  /** Why there was no answer. */
  error?: string;
  retryAfter: string | null;
  ms: number;
}

describe.skipIf(!HAVE_PG_SERVER || !PGBOUNCER || !HAVE_REDIS_SERVER)(
  'fault: PostgreSQL restarted or killed under load (direct and behind PgBouncer)',
  () => {
    let pg: PgServer;
    let bouncer: PgBouncer;
    let redis: Awaited<ReturnType<typeof startRedis>>;
    let check: postgres.Sql;
    const hosts: Host[] = [];
    const secret = randomBytes(32).toString('hex');

    const startHost = async (name: string, env: Record<string, string>): Promise<Host> => {
      const port = await freePort();
      const proc = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          HOST: '127.0.0.1',
          PORT: String(port),
          LOG_LEVEL: 'warn',
          JWT_SECRET: secret,
          NOTES_ENCRYPTION_KEY: generateNotesKeyEntry(),
          RATE_LIMIT_GENERAL_PER_MINUTE: '1000000',
          DATABASE_POOL_MAX: '6',
          DATABASE_POOL_WAIT_MS: '1000',
          JOBS_ENABLED: 'true',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const host: Host = { name, url: `http://127.0.0.1:${port}`, proc, log: '' };
      proc.stdout!.on('data', (d) => (host.log += d));
      proc.stderr!.on('data', (d) => (host.log += d));
      // Ready when /readyz says so; no fixed deadline (a loaded machine starts slowly), only
      // the test's timeout, and an exit ends the wait at once.
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`${name} exited at start:\n${host.log}`);
        const ok = await fetch(`${host.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return host;
        await sleep(200);
      }
    };

    beforeAll(async () => {
      pg = await startPgServer();
      const admin = postgres(pg.url('postgres'), { max: 1, onnotice: () => {} });
      await admin`CREATE DATABASE manas360`;
      await admin.end();
      const database = await createDatabase({ url: pg.url('manas360'), poolMax: 1 });
      await database.migrate();
      await database.close();
      // PgBouncer's default query_wait_timeout (120 s): during PAUSE the API's own call
      // deadline must answer, whatever the pooler's configuration.
      bouncer = await startPgBouncer({
        target: pg.url('manas360'),
        port: await freePort(),
        poolSize: 6,
        queryWaitTimeout: 120,
      });
      const redisPort = await freePort();
      redis = await startRedis(redisPort);
      const redisUrl = `redis://127.0.0.1:${redisPort}`;
      hosts.push(
        await startHost('direct', { DATABASE_URL: pg.url('manas360'), REDIS_URL: redisUrl }),
        await startHost('pgbouncer', {
          DATABASE_URL: bouncer.url,
          DATABASE_POOLER: 'transaction',
          REDIS_URL: redisUrl,
        }),
      );
      check = postgres(pg.url('manas360'), { max: 1, onnotice: () => {}, connect_timeout: 5 });
    }, 240_000);
    afterAll(async () => {
      for (const h of hosts) if (h.proc.exitCode === null) h.proc.kill('SIGKILL');
      await check?.end({ timeout: 1 }).catch(() => {});
      await bouncer?.stop();
      await redis?.stop();
      pg?.stop();
    });

    const post = async (host: Host, path: string, token: string | undefined, input: unknown) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(`${host.url}/trpc/${path}`, {
        method: 'POST',
        headers,
        body: trpcInput(input),
        signal: AbortSignal.timeout(15_000),
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
    };

    /** A patient of each host's own (registered, confirmed, signed in): mood.log writes one row per OK answer. */
    const register = async (host: Host) => {
      const email = `${host.name}-${randomBytes(4).toString('hex')}@example.com`;
      const password = 'a fault test password';
      const reg = await post(host, 'auth.register', undefined, {
        email,
        password,
        name: host.name,
        acceptPrivacyNotice: NOTICE,
      });
      expect(reg.status, reg.body).toBe(200);
      await confirmRegistration(check, email); // as its emailed link would
      const r = await post(host, 'auth.login', undefined, { email, password });
      expect(r.status, r.body).toBe(200);
      const json = JSON.parse(r.body) as {
        result: { data: { json: { user: { id: string }; accessToken: string } } };
      };
      return json.result.data.json;
    };

    /** Writes on every host, 3 at a time each, until stop(); every answer recorded. */
    const load = async () => {
      const patients = await Promise.all(hosts.map(register));
      const samples: Sample[] = [];
      const acks = new Map<string, number>();
      let running = true;
      const writer = async (host: Host, patient: { user: { id: string }; accessToken: string }) => {
        while (running) {
          const at = performance.now();
          const r = await post(host, 'mood.log', patient.accessToken, { score: 5 }).catch((err: Error) => ({
            status: 0,
            retryAfter: null,
            body: `${err.message}: ${(err.cause as Error | undefined)?.message ?? ''}`,
          }));
          samples.push({
            host: host.name,
            at,
            status: r.status,
            retryAfter: r.retryAfter,
            ms: performance.now() - at,
            ...(r.status === 0 ? { error: r.body } : {}),
          });
          if (r.status === 200) acks.set(patient.user.id, (acks.get(patient.user.id) ?? 0) + 1);
          else await sleep(50);
        }
      };
      const writers = hosts.flatMap((h, i) => [0, 1, 2].map(() => writer(h, patients[i]!)));
      return {
        samples,
        patients,
        async stop() {
          running = false;
          await Promise.all(writers);
          return acks;
        },
      };
    };

    /** Seconds from `from` to the first OK write on `host` that started after it. */
    const recoveredAfter = (samples: Sample[], host: string, from: number) => {
      const first = samples.find((s) => s.host === host && s.at >= from && s.status === 200);
      return first ? (first.at + first.ms - from) / 1000 : Number.POSITIVE_INFINITY;
    };

    for (const fault of ['fast restart', 'SIGKILL'] as const)
      it(`${fault}: both hosts stay up, answer 503 while it is away, write again within ${RECOVERY_BOUND_S} s, lose no acknowledged write`, async () => {
        const run = await load();
        // Steady state: both hosts writing.
        while (hosts.some((h) => !run.samples.some((s) => s.host === h.name && s.status === 200)))
          await sleep(100);
        const downAt = performance.now();
        if (fault === 'fast restart') await pg.stopFast();
        else pg.kill();
        await sleep(1500); // as long as a fast restart takes (issue 24: ~1.3 s)
        await pg.start();
        const backAt = performance.now();
        // Until each host has written again, or 30 s.
        while (
          performance.now() - backAt < 30_000 &&
          hosts.some((h) => recoveredAfter(run.samples, h.name, backAt) === Number.POSITIVE_INFINITY)
        )
          await sleep(100);
        await sleep(500);
        const acks = await run.stop();

        const alive = hosts.map(
          (h) => `${h.name}: ${h.proc.exitCode === null ? 'up' : `exited ${h.proc.exitCode}`}`,
        );
        const recovery = hosts.map((h) => recoveredAfter(run.samples, h.name, backAt));
        const during = run.samples.filter((s) => s.at >= downAt && s.at < backAt);
        const unanswered = run.samples.filter((s) => s.status === 0);
        const otherThan503 = during.filter((s) => s.status !== 200 && s.status !== 503);
        const without503RetryAfter = during.filter((s) => s.status === 503 && !s.retryAfter);
        const rows = await check<{ user_id: string; n: number }[]>`
          SELECT user_id, count(*)::int AS n FROM mood_entries GROUP BY user_id`;
        const stored = new Map(rows.map((r) => [r.user_id, r.n]));
        const lost = run.patients.map((p) =>
          Math.max(0, (acks.get(p.user.id) ?? 0) - (stored.get(p.user.id) ?? 0)),
        );
        console.log(
          `[db-restart] ${fault}: ${alive.join(', ')}; writes again ${recovery.map((s) => `${s.toFixed(1)} s`).join(' / ')} after the database was back; ` +
            `${during.length} requests while it was away (${during.filter((s) => s.status === 503).length} × 503), ${unanswered.length} unanswered; ` +
            `acks ${run.patients.map((p) => acks.get(p.user.id) ?? 0).join('/')} vs rows ${run.patients.map((p) => stored.get(p.user.id) ?? 0).join('/')}`,
        );
        const logs = hosts.map((h) => `--- ${h.name}\n${h.log.split('\n').slice(-20).join('\n')}`).join('\n');
        expect(alive, logs).toEqual(hosts.map((h) => `${h.name}: up`));
        expect(Math.max(...recovery), logs).toBeLessThanOrEqual(RECOVERY_BOUND_S);
        expect(
          unanswered.map((s) => `${s.host} after ${s.ms.toFixed(0)} ms: ${s.error}`),
          logs,
        ).toEqual([]);
        expect(otherThan503.map((s) => s.status)).toEqual([]);
        expect(without503RetryAfter.length).toBe(0);
        expect(lost).toEqual(run.patients.map(() => 0));
      }, 180_000);

    it(`PgBouncer PAUSE ${PAUSE_S} s: no request goes unanswered (503 with Retry-After within the call deadline), writes resume at RESUME`, async () => {
      const run = await load();
      while (hosts.some((h) => !run.samples.some((s) => s.host === h.name && s.status === 200)))
        await sleep(100);
      const pausedAt = performance.now();
      await bouncer.admin('PAUSE'); // returns once the transactions in flight have ended
      await sleep(PAUSE_S * 1000);
      await bouncer.admin('RESUME');
      const resumedAt = performance.now();
      while (
        performance.now() - resumedAt < 30_000 &&
        hosts.some((h) => recoveredAfter(run.samples, h.name, resumedAt) === Number.POSITIVE_INFINITY)
      )
        await sleep(100);
      await sleep(500);
      const acks = await run.stop();
      const during = run.samples.filter(
        (s) => s.host === 'pgbouncer' && s.at >= pausedAt && s.at < resumedAt,
      );
      const unanswered = run.samples.filter((s) => s.status === 0);
      const slowest = Math.max(...during.map((s) => s.ms));
      const rows = await check<{ user_id: string; n: number }[]>`
          SELECT user_id, count(*)::int AS n FROM mood_entries GROUP BY user_id`;
      const stored = new Map(rows.map((r) => [r.user_id, r.n]));
      console.log(
        `[db-restart] PAUSE ${PAUSE_S} s: ${during.length} requests to the PgBouncer host while paused ` +
          `(${during.filter((s) => s.status === 503).length} × 503, slowest answer ${(slowest / 1000).toFixed(1)} s), ${unanswered.length} unanswered; ` +
          `writes again ${hosts.map((h) => `${recoveredAfter(run.samples, h.name, resumedAt).toFixed(1)} s`).join(' / ')} after RESUME; ` +
          `acks ${run.patients.map((p) => acks.get(p.user.id) ?? 0).join('/')} vs rows ${run.patients.map((p) => stored.get(p.user.id) ?? 0).join('/')}`,
      );
      expect(hosts.map((h) => h.proc.exitCode)).toEqual([null, null]);
      expect(unanswered.map((s) => `${s.host} after ${s.ms.toFixed(0)} ms: ${s.error}`)).toEqual([]);
      expect(during.filter((s) => s.status !== 200 && s.status !== 503).map((s) => s.status)).toEqual([]);
      expect(during.filter((s) => s.status === 503 && !s.retryAfter)).toEqual([]);
      // Answered within the call deadline (10 s) plus the pool wait and a loaded machine's slack.
      expect(slowest).toBeLessThan(14_000);
      expect(
        Math.max(...hosts.map((h) => recoveredAfter(run.samples, h.name, resumedAt))),
      ).toBeLessThanOrEqual(RECOVERY_BOUND_S);
      // Every acknowledged write is a row (a write answered 503 at the deadline may have
      // committed later: rows ≥ acks; Idempotency-Key makes its retry safe).
      for (const p of run.patients)
        expect(stored.get(p.user.id) ?? 0).toBeGreaterThanOrEqual(acks.get(p.user.id) ?? 0);
    }, 180_000);
  },
);
