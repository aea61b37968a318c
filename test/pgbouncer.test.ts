// Through a real PgBouncer 1.18 (Debian's) in transaction mode: no acknowledged write may be
// lost. Many concurrent mutations (assessments.submit raising crisis alerts,
// crisis.acknowledge, mood.log, admin.views.refresh) over HTTP; then every OK answer is
// counted against the rows in PostgreSQL. The pooler is configured as issue 10 found it
// (ignore_startup_parameters, so that a server sending its timeouts at connect gets in), with
// few server connections so that clients keep changing them. Also: start-up refuses such a
// pooler unless DATABASE_POOLER=transaction says so.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  classifyDbError,
  commitOrThrow,
  createDatabase,
  TransactionNotCommittedError,
} from '../db/client.ts';
import { closeDeps, createDeps, createLogger } from '../server/create-services.ts';
import { ADMIN, ADMIN_ENV, PASSWORD } from './accounts.ts';
import { freePort } from './faults/support.ts';
import { createEmptyPostgresDatabase, NOTICE, REAL_DATABASE_URL, testConfig } from './helpers.ts';
import { registerUser, signIn } from './server.ts';
import { startHost } from './support/host.ts';
import { scaled } from './support/load.ts';
import { PGBOUNCER, type PgBouncer, startPgBouncer } from './support/pgbouncer.ts';

if (!PGBOUNCER)
  console.warn('[pgbouncer.test] SKIPPED: pgbouncer is not installed (apt-get install -y pgbouncer)');

const CRISIS_PHQ9 = { instrument: 'PHQ9' as const, answers: [1, 1, 1, 1, 1, 1, 1, 1, 1] };
const ALERTS = 60;
const MOODS = 80;
const REFRESHES = 12;

describe.skipIf(!REAL_DATABASE_URL)('the COMMIT guard', () => {
  it('throws when COMMIT answers ROLLBACK (an aborted transaction), instead of resolving', async () => {
    const sql = postgres(REAL_DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      const outcome = await sql
        .begin(async (tx) => {
          // The statement fails and the caller swallows it: the transaction is aborted.
          await tx`SELECT 1 / 0`.catch(() => {});
          await commitOrThrow(tx);
          return 'committed';
        })
        .catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(TransactionNotCommittedError);
      expect(classifyDbError(outcome)).toBe('connection'); // answered 503, retryable
      // And a transaction that commits passes.
      const committed = await sql.begin(async (tx) => {
        await tx`SELECT 1`;
        await commitOrThrow(tx);
        return 'committed';
      });
      expect(committed).toBe('committed');
    } finally {
      await sql.end();
    }
  });
});

describe.skipIf(!REAL_DATABASE_URL || !PGBOUNCER)('through PgBouncer in transaction mode', () => {
  let empty: Awaited<ReturnType<typeof createEmptyPostgresDatabase>>;
  let bouncer: PgBouncer;
  let direct: postgres.Sql;
  beforeAll(async () => {
    empty = await createEmptyPostgresDatabase();
    bouncer = await startPgBouncer({
      target: empty.url,
      port: await freePort(),
      poolSize: 4,
      ignoreStartupParameters: ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout'],
    });
    direct = postgres(empty.url, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await direct?.end();
    await bouncer?.stop();
    await empty?.drop();
  });

  it('refuses to start without DATABASE_POOLER, in one line naming it', async () => {
    const config = testConfig({ DATABASE_URL: bouncer.url });
    const err = await createDeps(config, { log: createLogger(config) }).then(
      (deps) => closeDeps(deps).then(() => null),
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/DATABASE_POOLER=transaction/);
    expect(err?.message).not.toContain('\n');
  });

  it('a PgBouncer that refuses the session settings is explained in one line naming DATABASE_POOLER', async () => {
    // Default PgBouncer (no ignore_startup_parameters) and a client that sends the settings.
    const strict = await startPgBouncer({ target: empty.url, port: await freePort() });
    const database = await createDatabase({ url: strict.url, poolMax: 1 });
    try {
      const err = await database.ping().then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(/unsupported startup parameter.*set DATABASE_POOLER=transaction/);
      expect(err?.message).not.toContain('\n');
    } finally {
      await database.close();
      await strict.stop();
    }
  });

  it('loses no acknowledged write: every OK answer is a row', { timeout: scaled(60_000) }, async () => {
    // Migrations through the pooler too (a transaction advisory lock, one transaction).
    const migrator = await createDatabase({ url: bouncer.url, pooler: 'transaction', poolMax: 1 });
    await migrator.migrate();
    await migrator.close();

    const host = await startHost({
      ...ADMIN_ENV,
      DATABASE_URL: bouncer.url,
      DATABASE_POOLER: 'transaction',
      DATABASE_POOL_MAX: '24',
      DATABASE_POOL_WAIT_MS: '20000',
    });
    try {
      const api = host.client;
      const accept = async (creds: { email: string; password: string }) => {
        // Staff complete the sign-in with a second factor (a passkey the helper enrols).
        const login = await signIn(host, creds);
        return (await api(login.accessToken).privacy.acceptNotice.mutate({ version: NOTICE })).accessToken;
      };
      const admin = api(await accept(ADMIN));
      // One patient per alert: a patient has one open crisis alert at a time (later crisis
      // screenings attach to it), and every alert is to be acknowledged concurrently.
      const stamp = Date.now().toString(36);
      const patients: ReturnType<typeof api>[] = [];
      for (let i = 0; i < ALERTS; i++) {
        const reg = await registerUser(host, {
          email: `pooled-${stamp}-${i}@example.com`,
          password: PASSWORD,
          name: 'Pooled',
          acceptPrivacyNotice: NOTICE,
        });
        patients.push(api(reg.accessToken));
      }

      const ok = { submit: 0, acknowledge: 0, mood: 0, refresh: 0 };
      const settle = async (kind: keyof typeof ok, calls: Promise<unknown>[]) => {
        for (const r of await Promise.allSettled(calls)) if (r.status === 'fulfilled') ok[kind] += 1;
      };
      // Raise the alerts and log moods at once, then acknowledge every alert while views refresh.
      await Promise.all([
        settle(
          'submit',
          patients.map((patient) => patient.assessments.submit.mutate(CRISIS_PHQ9)),
        ),
        settle(
          'mood',
          Array.from({ length: MOODS }, (_, i) =>
            patients[i % ALERTS]!.mood.log.mutate({ score: (i % 10) + 1 }),
          ),
        ),
      ]);
      const open = await direct<{ id: string }[]>`SELECT id FROM crisis_alerts WHERE status = 'open'`;
      await Promise.all([
        settle(
          'acknowledge',
          open.map((a) => admin.crisis.acknowledge.mutate({ alertId: a.id })),
        ),
        settle(
          'refresh',
          Array.from({ length: REFRESHES }, () => admin.admin.views.refresh.mutate()),
        ),
      ]);

      const [rows] = await direct<
        {
          assessments: number;
          alerts: number;
          acked: number;
          moods: number;
          acks: number;
          refreshes: number;
        }[]
      >`
        SELECT (SELECT count(*)::int FROM assessments) AS assessments,
               (SELECT count(*)::int FROM crisis_alerts) AS alerts,
               (SELECT count(*)::int FROM crisis_alerts WHERE status = 'acknowledged') AS acked,
               (SELECT count(*)::int FROM mood_entries) AS moods,
               (SELECT count(*)::int FROM audit_log WHERE action = 'crisis.acknowledge') AS acks,
               (SELECT count(*)::int FROM audit_log WHERE action = 'admin.views.refresh') AS refreshes`;
      console.log(
        `[pgbouncer.test] OK answers vs rows: submit ${ok.submit}/${rows!.assessments} (alerts ${rows!.alerts}), ` +
          `acknowledge ${ok.acknowledge}/${rows!.acked} (audit ${rows!.acks}), mood.log ${ok.mood}/${rows!.moods}, ` +
          `views.refresh ${ok.refresh}/${rows!.refreshes}`,
      );
      // Every OK is a row, and every write asked for was acknowledged (nothing was refused).
      expect(rows).toEqual({
        assessments: ok.submit,
        alerts: ok.submit,
        acked: ok.acknowledge,
        moods: ok.mood,
        acks: ok.acknowledge,
        refreshes: ok.refresh,
      });
      expect(ok.submit).toBe(ALERTS);
      expect(ok.mood).toBe(MOODS);
      expect(ok.acknowledge).toBe(ALERTS);
      expect(ok.refresh).toBeGreaterThan(0);
    } finally {
      await host.close();
    }
  });
});

// Issue 24 #5: migrated through PgBouncer, the pooled sessions kept statement_timeout 0 (the
// server connection predated ALTER DATABASE … SET). The documented procedure (docs/operations.md,
// "Migrations"; deploy/kubernetes/migrate-job.yaml): migrate directly on PostgreSQL, and
// RECONNECT the pooler when it already held server connections.
describe.skipIf(!REAL_DATABASE_URL || !PGBOUNCER)(
  'session defaults through PgBouncer after a migration',
  () => {
    /** A fresh database, PgBouncer (one server connection) in front, a pooled client. */
    const setup = async () => {
      const empty = await createEmptyPostgresDatabase();
      const bouncer = await startPgBouncer({ target: empty.url, port: await freePort(), poolSize: 1 });
      const pooled = postgres(bouncer.url, { max: 1, prepare: false, onnotice: () => {} });
      const show = async () => (await pooled`SHOW statement_timeout`)[0]!.statement_timeout as string;
      const migrateDirectly = async () => {
        const migrator = await createDatabase({ url: empty.url, poolMax: 1 });
        await migrator.migrate();
        await migrator.close();
      };
      const close = async () => {
        await pooled.end();
        await bouncer.stop();
        await empty.drop();
      };
      return { bouncer, show, migrateDirectly, close };
    };

    it('a migration run directly: the first statement through the pooler has the 30 s timeout', async () => {
      const s = await setup();
      try {
        await s.migrateDirectly();
        expect(await s.show()).toBe('30s');
      } finally {
        await s.close();
      }
    });

    it('a server connection from before the migration keeps 0 until RECONNECT replaces it', async () => {
      const s = await setup();
      try {
        expect(await s.show()).toBe('0'); // PgBouncer now holds a server connection
        await s.migrateDirectly();
        expect(await s.show()).toBe('0');
        await s.bouncer.admin('RECONNECT');
        expect(await s.show()).toBe('30s');
      } finally {
        await s.close();
      }
    });
  },
);
