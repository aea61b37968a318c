// npm run topology — a production-shaped deployment on this machine, under a steady mixed
// load, and six faults, each with a printed result (issue 10):
//   HAProxy (checks on /readyz) → 3 API hosts (NODE_ENV=production, real keys, real
//   scrypt cost) → PgBouncer (transaction mode) → PostgreSQL primary, with a streaming
//   replica (pg_basebackup) as DATABASE_REPLICA_URLS; Redis primary + replica + 3 Sentinels.
//   (a) rolling restart of the 3 hosts → 0 failed requests
//   (b) SIGKILL of one host → failures only among requests in flight on it; 0 acknowledged
//       writes lost (acknowledgements vs rows)
//   (c) SIGKILL of the Redis primary → logins back within 10 s
//   (d) the replica stopped → reads keep working
//   (e) a revocation on host 1 refused on hosts 2 and 3 within 1 s
//   (f) exactly one view refresh per tick across the hosts
// Every component is a child process (free ports, one temporary directory), stopped by PID
// at the end, also on failure or Ctrl-C. As root the run takes a network namespace of its
// own, apart from the machine's services, and gives each API host a namespace of its own
// on a bridge (hostNetworks): the hosts reach PgBouncer, the replica, Redis and the
// sentinels over it as separate machines would. Otherwise everything is on the machine's
// loopback. Report: bench/results/topology-latest.{json,md}.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import postgres from 'postgres';
import { REQUEST_TIMEOUT_MS } from '../../server/app.ts';
import { encodePrivateKeys, generatePrivateJwk } from '../../server/auth/keys.ts';
import { OUTAGE_RESYNC_INTERVAL_MS } from '../../server/auth/revocation.ts';
import { DEFAULT_PRIVACY_NOTICE_VERSION } from '../../server/config.ts';
import { generateNotesKeyEntry } from '../../server/crypto/notes.ts';
import { freePort, sleep } from '../../test/faults/support.ts';
import { trpcInput } from '../../test/server.ts';
import { startPgPair } from '../../test/support/pg-replica.ts';
import { startPgBouncer } from '../../test/support/pgbouncer.ts';
import { MASTER_NAME, startSentinelSet } from '../../test/support/redis-sentinel.ts';
import { confirmRegistration } from '../../test/support/register.ts';

const ADMIN = { email: 'topology-admin@example.com', password: 'a topology admin password' };
const PASSWORD = 'a topology user password';
const REFRESH_EVERY_S = 5;
/** Patients kept apart from the load: (e)'s, a writer for each of the faults (g)-(k), and (i)'s revoked session. */
const FAULT_PATIENTS = 7;
/** TOPOLOGY_SCENARIOS=g,h: only these (while working on them); all by default. */
const ONLY = process.env.TOPOLOGY_SCENARIOS?.split(',');
const want = (key: string) => !ONLY || ONLY.includes(key);
/** (i): Redis and the sentinels down this long; (j): PgBouncer paused this long; (k): one host cut off from Redis this long. */
const OUTAGE_S = 30;
const PAUSE_S = 40;
const CUT_S = 15;
/**
 * An API host starting is given up on when it made no progress (no CPU time used, no output)
 * for this long while not ready; it fails at once if it exits. No fixed budget otherwise: a
 * loaded machine started the same deployment in 82-210 s (issue 24), a stuck one never does.
 */
const HOST_STALL_LIMIT_MS = 60_000;
/** The whole run's limit (TOPOLOGY_LIMIT_S): past it the run fails, naming the step it was in. */
const RUN_LIMIT_MS = Number(process.env.TOPOLOGY_LIMIT_S ?? 1800) * 1000;
/** Each cleanup step's limit: a step that hangs (a client waiting on a server that is gone) is left behind. */
const CLEANUP_STEP_MS = 15_000;
/** HAProxy's answer with no host ready: the API's error body (docs/api.md), with Retry-After. */
const BALANCER_503 =
  '{"message":"no API host is ready","code":"SERVICE_UNAVAILABLE","data":{"code":"SERVICE_UNAVAILABLE","httpStatus":503,"retryAfterSeconds":1}}';
/** The scraper's bearer token: /metrics is served only with METRICS_TOKEN set. */
const METRICS_TOKEN = randomBytes(32).toString('base64url');
/** Set inside the network namespace the run made for itself. */
const NETNS = process.env.TOPOLOGY_NETNS;

// ---- what runs, and how it is stopped -------------------------------------------------
const cleanups: Array<() => unknown> = [];
async function cleanup() {
  for (const c of cleanups.splice(0).reverse()) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.resolve()
        .then(c)
        .catch((err: unknown) => console.error(`cleanup step failed: ${(err as Error).message}`)),
      new Promise((resolve) => {
        timer = setTimeout(() => {
          console.error(`cleanup step over ${CLEANUP_STEP_MS / 1000} s, left: ${c.toString().slice(0, 120)}`);
          resolve(undefined);
        }, CLEANUP_STEP_MS);
      }),
    ]);
    clearTimeout(timer);
  }
}
/** What the run is doing (a failure past RUN_LIMIT_MS names it). */
let step = 'start-up';
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => void cleanup().then(() => process.exit(130)));

function missing(): string[] {
  const need: Record<string, string> = {
    haproxy: '/usr/sbin/haproxy',
    pgbouncer: '/usr/sbin/pgbouncer',
    'redis-sentinel': '/usr/bin/redis-sentinel',
  };
  return Object.entries(need)
    .filter(([, path]) => spawnSync(path, ['-v'], { stdio: 'ignore' }).error)
    .map(([pkg]) => pkg);
}

/** What this machine cannot run (a package that cannot be installed): not a failure. */
class MustSkip extends Error {}
/** The exit code of a run that had to skip; `.ci/run` reports it as skipped. */
const SKIPPED_EXIT_CODE = 3;

interface ApiHost {
  name: string;
  /** Its address: its own namespace's, or loopback. */
  ip: string;
  port: number;
  url: string;
  /** The network namespace it runs in, when it has one of its own. */
  netns?: string;
  proc?: ChildProcess;
  log: string;
}

async function main() {
  const absent = missing();
  if (absent.length) {
    console.log(`== installing ${absent.join(' ')}`);
    spawnSync(
      'sh',
      [
        '-c',
        `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${absent.join(' ')}`,
      ],
      {
        stdio: 'inherit',
      },
    );
    if (missing().length) throw new MustSkip(`cannot install ${missing().join(', ')} from Debian's packages`);
  }
  // As root: the whole deployment in a network namespace of its own (its loopback only), so
  // its load and faults never reach the machine's own services; this process re-runs
  // itself inside it and deletes it afterwards.
  if (!NETNS && process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0) {
    const ns = `manas360-topology-${process.pid}`;
    if (spawnSync('ip', ['netns', 'add', ns]).status === 0) {
      try {
        spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
        const inner = spawn(
          'ip',
          ['netns', 'exec', ns, process.execPath, ...process.execArgv, process.argv[1]!],
          {
            env: { ...process.env, TOPOLOGY_NETNS: ns },
            stdio: 'inherit',
          },
        );
        // The inner run cleans up; this one forwards the signal and then deletes the namespace.
        const forward = (signal: NodeJS.Signals) => inner.kill(signal);
        process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
        process.on('SIGINT', forward).on('SIGTERM', forward);
        const code = await new Promise<number | null>((resolve) => inner.once('exit', resolve));
        process.exitCode = code ?? 1;
      } finally {
        // Nothing of the run outlives it: whatever still runs in its namespaces (the inner
        // run killed before its cleanup, or a step of it that hung) is killed and named,
        // then the hosts' namespaces and its own are deleted.
        for (const name of [...hostNamespaces(ns), ns]) {
          const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' })
            .stdout?.split('\n')
            .filter(Boolean);
          if (pids?.length) {
            const what = spawnSync('ps', ['-o', 'pid=,args=', '-p', pids.join(',')], {
              encoding: 'utf8',
            }).stdout;
            console.error(`left running in ${name}, killed:\n${what}`);
            for (const pid of pids) spawnSync('kill', ['-KILL', pid]);
          }
          spawnSync('ip', ['netns', 'del', name]);
        }
      }
      return;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'topology-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  // Inside its namespace, each API host gets one of its own (hostNetworks); the shared
  // services listen on the bridge's address. Otherwise everything is on loopback.
  const net = NETNS ? hostNetworks(NETNS) : undefined;
  const address = net?.services ?? '127.0.0.1';

  // PostgreSQL primary + streaming replica, the database, migrations through PgBouncer.
  const pair = await startPgPair({ address });
  cleanups.push(() => pair.stop());
  const admin = postgres(pair.primaryUrl('postgres'), { max: 1, onnotice: () => {} });
  await admin`CREATE DATABASE manas360`;
  await admin.end();
  const bouncer = await startPgBouncer({
    address,
    target: pair.primaryUrl('manas360'),
    port: await freePort(),
    poolSize: 12,
  });
  cleanups.push(() => bouncer.stop());
  // Directly on the primary, not through PgBouncer (docs/operations.md, "Migrations"): the
  // session defaults migration 0016 sets then reach every server connection PgBouncer opens.
  const migrate = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], {
    env: { PATH: process.env.PATH, DATABASE_URL: pair.primaryUrl('manas360') },
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`migration failed: ${migrate.stderr}`);
  const primary = postgres(pair.primaryUrl('manas360'), { max: 2, onnotice: () => {} });
  cleanups.push(() => primary.end({ timeout: 2 }));
  /**
   * A statement of the run's own on the primary, sent again (for up to 10 s) while the faults
   * below restart PostgreSQL: a session they ended answers 57P01 or a closed connection.
   */
  const onPrimary = async <T>(query: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await query();
      } catch (err) {
        const code = String((err as { code?: unknown }).code);
        if (attempt >= 40 || !/^(08|57P)|^CONNECTION_|^ECONN/.test(code)) throw err;
        await sleep(250);
      }
    }
  };

  // Redis primary + replica + 3 sentinels.
  const redis = await startSentinelSet({ address: net?.redis ?? address });
  cleanups.push(() => redis.stop());

  // Three API hosts, as production runs them.
  const env = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: bouncer.url,
    DATABASE_POOLER: 'transaction',
    DATABASE_POOL_MAX: '8',
    DATABASE_POOL_WAIT_MS: '2000',
    DATABASE_REPLICA_URLS: pair.replicaUrl('manas360'),
    REDIS_SENTINELS: redis.sentinels,
    REDIS_SENTINEL_NAME: MASTER_NAME,
    REDIS_PASSWORD: redis.password,
    REDIS_SENTINEL_PASSWORD: redis.sentinelPassword,
    JWT_PRIVATE_KEYS: encodePrivateKeys([await generatePrivateJwk()]),
    NOTES_ENCRYPTION_KEY: generateNotesKeyEntry(),
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    TRUST_PROXY: 'true',
    RATE_LIMIT_GENERAL_PER_MINUTE: '1000000',
    RATE_LIMIT_REGISTER_PER_HOUR: '100000',
    // (c) checks that this limit still counts across the hosts after the Redis failover.
    RATE_LIMIT_LOGIN_FAILURES: '5',
    // HAProxy checks every 1 s and needs 2 failures: out within 2 s (with margin for a
    // loaded machine, whose checks run late).
    SHUTDOWN_DELAY_MS: '4000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    VIEW_REFRESH_CRON: `*/${REFRESH_EVERY_S} * * * * *`,
    METRICS_TOKEN,
  };
  const hosts: ApiHost[] = await Promise.all(
    [1, 2, 3].map(async (i) => {
      const port = await freePort();
      const ip = net?.hosts[i - 1] ?? '127.0.0.1';
      return {
        name: `api${i}`,
        port,
        ip,
        url: `http://${ip}:${port}`,
        netns: net?.namespaces[i - 1],
        log: '',
      };
    }),
  );
  const startHost = async (h: ApiHost) => {
    // `ip netns exec` runs node in the host's namespace under the same PID (exec, no fork),
    // so the signals below reach the server itself.
    const node = [process.execPath, '--import', 'tsx', 'server/index.ts'];
    const [cmd, ...args] = h.netns ? ['ip', 'netns', 'exec', h.netns, ...node] : node;
    // A process group of its own: the cleanup kills the group (nothing it started survives).
    h.proc = spawn(cmd!, args, {
      env: { ...env, HOST: h.ip, PORT: String(h.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    h.proc.stdout!.on('data', (d) => (h.log += d));
    h.proc.stderr!.on('data', (d) => (h.log += d));
    // Ready when /readyz says so, however long that takes while the host makes progress
    // (HOST_STALL_LIMIT_MS): an exit ends the wait at once.
    let seen = '';
    let progressAt = performance.now();
    while (!(await ok(`${h.url}/readyz`))) {
      if (h.proc.exitCode !== null || h.proc.signalCode !== null)
        throw new Error(`${h.name} exited:\n${h.log}`);
      const now = `${cpuTicks(h.proc.pid!)}:${h.log.length}`;
      if (now !== seen) [seen, progressAt] = [now, performance.now()];
      else if (performance.now() - progressAt > HOST_STALL_LIMIT_MS)
        throw new Error(
          `${h.name} not ready and no progress (CPU time, output) for ${HOST_STALL_LIMIT_MS / 1000} s:\n${h.log}`,
        );
      await sleep(200);
    }
  };
  const stopHost = (h: ApiHost, signal: NodeJS.Signals) =>
    new Promise<number | null>((resolve) => {
      const p = h.proc!;
      if (p.exitCode !== null) return resolve(p.exitCode);
      p.once('exit', (code) => resolve(code));
      p.kill(signal);
    });
  cleanups.push(() =>
    Promise.all(
      hosts.map((h) => {
        if (!h.proc?.pid || h.proc.exitCode !== null || h.proc.signalCode !== null) return undefined;
        const exited = new Promise((resolve) => h.proc!.once('exit', resolve));
        try {
          process.kill(-h.proc.pid, 'SIGKILL'); // its process group
        } catch {
          h.proc.kill('SIGKILL');
        }
        return exited;
      }),
    ),
  );
  // Each host's output, kept for a look afterwards (the run's directory goes): tmp/topology/.
  cleanups.push(() => {
    mkdirSync('tmp/topology', { recursive: true });
    for (const h of hosts) writeFileSync(`tmp/topology/${h.name}.log`, h.log);
  });
  for (const h of hosts) await startHost(h); // one at a time: the first creates the admin

  // HAProxy in front (deploy/haproxy/haproxy.cfg, with these ports).
  const lbPort = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '    maxconn 4096',
      'defaults',
      '    mode http',
      '    option http-server-close',
      '    timeout connect 2s',
      '    timeout client 30s',
      '    timeout server 30s',
      '    retries 1',
      '    option redispatch',
      'frontend api',
      `    bind 127.0.0.1:${lbPort}`,
      '    default_backend api_hosts',
      'backend api_hosts',
      '    balance roundrobin',
      // As deploy/haproxy/haproxy.cfg: with no host ready, a 503 a client retries (Retry-After).
      `    http-error status 503 content-type application/json string '${BALANCER_503}' hdr retry-after 1`,
      '    option httpchk GET /readyz',
      '    http-check expect status 200',
      '    default-server inter 1s fall 2 rise 2',
      ...hosts.map((h) => `    server ${h.name} ${h.ip}:${h.port} check`),
      '',
    ].join('\n'),
  );
  let haproxyLog = '';
  const haproxy = spawn('/usr/sbin/haproxy', ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  haproxy.stderr!.on('data', (d) => (haproxyLog += d));
  cleanups.push(() => haproxy.kill('SIGKILL'));
  const lb = `http://127.0.0.1:${lbPort}`;
  // The hosts are ready: HAProxy sees one within its first checks (inter 1 s, rise 2).
  for (const started = performance.now(); !(await ok(`${lb}/readyz`)); await sleep(200)) {
    if (haproxy.exitCode !== null)
      throw new Error(`haproxy exited ${haproxy.exitCode}: ${haproxyLog.trim()}`);
    if (performance.now() - started > 30_000)
      throw new Error(`haproxy sent no /readyz to a ready host in 30 s: ${haproxyLog.trim().slice(-2000)}`);
  }
  await sleep(2500); // every host seen up (rise 2)

  // Accounts: the admin, and patients registered through the balancer.
  const call = async (
    base: string,
    path: string,
    token: string | undefined,
    input?: unknown,
    method = 'POST',
    extra: Record<string, string> = {},
  ) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
    if (token) headers.authorization = `Bearer ${token}`;
    const url =
      method === 'GET'
        ? `${base}/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(trpcInput(input))}`}`
        : `${base}/trpc/${path}`;
    const res = await fetch(url, {
      method,
      headers,
      body: method === 'POST' ? trpcInput(input ?? null) : undefined,
      // The hosts' request timeout (and HAProxy's server timeout), and a margin: a request
      // unanswered by then has no answer (status 0); HAProxy's 504 says the same.
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + 1000),
    });
    const text = await res.text();
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      text,
      body: text ? (JSON.parse(text) as { result?: { data?: { json?: unknown } } }) : {},
    };
  };
  const data = <T>(r: { body: { result?: { data?: { json?: unknown } } } }) => r.body.result?.data?.json as T;
  const loginAccepted = async (base: string, creds: typeof ADMIN) => {
    const login = data<{ accessToken: string }>(await call(base, 'auth.login', undefined, creds));
    // Staff need a second factor: TOTP enrolled with a code computed from its secret (RFC 6238).
    const begun = data<{ enrolmentToken: string; secret: string }>(
      await call(base, 'auth.mfa.totp.begin', login.accessToken),
    );
    const code = new TOTP({ secret: Secret.fromBase32(begun.secret) }).generate();
    const enrolled = data<{ accessToken: string }>(
      await call(base, 'auth.mfa.totp.confirm', login.accessToken, {
        enrolmentToken: begun.enrolmentToken,
        code,
      }),
    );
    const accepted = await call(base, 'privacy.acceptNotice', enrolled.accessToken, {
      version: DEFAULT_PRIVACY_NOTICE_VERSION,
    });
    return data<{ accessToken: string }>(accepted).accessToken;
  };
  const adminToken = await loginAccepted(lb, ADMIN);
  const patients: Array<{ id: string; email: string; token: string }> = [];
  for (let i = 0; i < 6 + FAULT_PATIENTS; i++) {
    const email = `patient${i}-${Date.now().toString(36)}@example.com`;
    await call(lb, 'auth.register', undefined, {
      email,
      password: PASSWORD,
      name: `Patient ${i}`,
      acceptPrivacyNotice: DEFAULT_PRIVACY_NOTICE_VERSION,
    });
    // Confirmed as the emailed link would (no SMTP here), then signed in.
    await confirmRegistration(primary, email);
    const login = await call(lb, 'auth.login', undefined, { email, password: PASSWORD });
    const r = data<{ user: { id: string }; accessToken: string }>(login);
    patients.push({ id: r.user.id, email, token: r.accessToken });
  }
  // One patient of its own for each fault below (its rows are its writes alone); the load has the first six.
  const faultPatients = patients.splice(6);
  const [eP, gP, hP, iP, jP, kP, revokedP] = faultPatients as [
    (typeof patients)[0],
    (typeof patients)[0],
    (typeof patients)[0],
    (typeof patients)[0],
    (typeof patients)[0],
    (typeof patients)[0],
    (typeof patients)[0],
  ];

  // ---- the steady mixed load ------------------------------------------------------------
  interface Sample {
    at: number;
    /** When the answer came (or the request gave up). */
    end: number;
    op: string;
    status: number;
    /** A 503's Retry-After header. */
    retryAfter?: string | null;
  }
  const samples: Sample[] = [];
  const moodAcks = new Map<string, number>();
  let crisisAcks = 0;
  const openAlerts: string[] = [];
  let running = true;
  let n = 0;
  const worker = async () => {
    while (running) {
      const i = n++;
      const p = patients[i % patients.length]!;
      const op = [
        'mood.log',
        'mood.list',
        'assessments.submit',
        'admin.users.list',
        'crisis.acknowledge',
        'mood.log',
      ][i % 6]!;
      const at = performance.now();
      let status = 0;
      let retryAfter: string | null = null;
      /** The call, its Retry-After kept for the sample. */
      const track = (...args: Parameters<typeof call>) =>
        call(...args).then((r) => {
          retryAfter = r.retryAfter;
          return r;
        });
      try {
        if (op === 'mood.log') {
          status = (await track(lb, op, p.token, { score: (i % 10) + 1 })).status;
          if (status === 200) moodAcks.set(p.id, (moodAcks.get(p.id) ?? 0) + 1);
        } else if (op === 'mood.list') status = (await track(lb, op, p.token, { limit: 10 }, 'GET')).status;
        else if (op === 'admin.users.list')
          status = (await track(lb, op, adminToken, { limit: 20 }, 'GET')).status;
        else if (op === 'assessments.submit') {
          const r = await track(lb, op, p.token, {
            instrument: 'PHQ9',
            answers: [1, 1, 1, 1, 1, 1, 1, 1, 1],
          });
          status = r.status;
        } else {
          if (openAlerts.length === 0) {
            // One refill at a time, each alert queued once: an alert is acknowledged once.
            refilling ??= primary<
              { id: string }[]
            >`SELECT id FROM crisis_alerts WHERE status = 'open' LIMIT 50`
              .then((rows) => {
                for (const r of rows) if (!queued.has(r.id)) queued.add(r.id) && openAlerts.push(r.id);
              })
              // The primary away (the faults below): nothing to acknowledge this time.
              .catch(() => {})
              .finally(() => {
                refilling = undefined;
              });
            await refilling;
          }
          const id = openAlerts.shift();
          if (!id) continue;
          status = (await track(lb, op, adminToken, { alertId: id })).status;
          if (status === 200) crisisAcks += 1;
        }
      } catch {
        status = 0; // no answer (connection reset, timeout)
      }
      samples.push({ at, end: performance.now(), op, status, retryAfter });
    }
  };
  const queued = new Set<string>();
  let refilling: Promise<void> | undefined;
  const workers = Array.from({ length: 6 }, worker);
  // Logins (real scrypt cost) once a second, alternating patients.
  const logins: Sample[] = [];
  const loginLoop = (async () => {
    let i = 0;
    while (running) {
      const p = patients[i++ % (patients.length - 1)]!; // not the last: (c) locks it out
      const at = performance.now();
      const r = await call(lb, 'auth.login', undefined, { email: p.email, password: PASSWORD }).catch(() => ({
        status: 0,
        retryAfter: null,
      }));
      logins.push({
        at,
        end: performance.now(),
        op: 'auth.login',
        status: r.status,
        retryAfter: r.retryAfter,
      });
      await sleep(1000);
    }
  })();
  const failuresBetween = (from: number, to: number, ops?: string[]) =>
    samples.filter((s) => s.at >= from && s.at <= to && s.status !== 200 && (!ops || ops.includes(s.op)));
  const countBetween = (from: number, to: number) => samples.filter((s) => s.at >= from && s.at <= to).length;
  /** Failed requests by procedure and status (0: no answer), e.g. {"mood.log 502": 3}. */
  const breakdown = (failed: Sample[]) =>
    failed.reduce<Record<string, number>>((acc, f) => {
      const key = `${f.op} ${f.status}`;
      acc[key] = (acc[key] ?? 0) + 1;
      return acc;
    }, {});

  const results: Record<string, unknown> = {};
  const say = (key: string, line: string, value: Record<string, unknown>) => {
    step = `after (${key})`;
    results[key] = { ...value, summary: line };
    console.log(`(${key}) ${line}${value.failures ? ` ${JSON.stringify(value.failures)}` : ''}`);
  };
  await sleep(5000); // steady state

  // (a) rolling restart
  if (want('a')) {
    const from = performance.now();
    for (const h of hosts) {
      const code = await stopHost(h, 'SIGTERM');
      if (code !== 0) throw new Error(`${h.name} exited ${code} on SIGTERM:\n${h.log}`);
      await startHost(h);
      await sleep(3000); // HAProxy: rise 2 × inter 1 s
    }
    const to = performance.now();
    const failed = failuresBetween(from, to);
    say(
      'a',
      `rolling restart of 3 hosts: ${failed.length} failed of ${countBetween(from, to)} requests (${((to - from) / 1000).toFixed(1)} s)`,
      {
        failed: failed.length,
        requests: countBetween(from, to),
        failures: breakdown(failed),
        pass: failed.length === 0,
      },
    );
  }

  // (b) SIGKILL of one host
  if (want('b')) {
    const victim = hosts[1]!;
    const from = performance.now();
    await stopHost(victim, 'SIGKILL');
    await sleep(4000);
    const to = performance.now();
    const failed = failuresBetween(from - 10, to);
    await startHost(victim);
    await sleep(2500);
    say(
      'b',
      `SIGKILL of ${victim.name}: ${failed.length} failed of ${countBetween(from, to)} requests (at most the ${workers.length} in flight can fail)`,
      {
        failed: failed.length,
        requests: countBetween(from, to),
        failures: breakdown(failed),
        pass: failed.length <= workers.length,
      },
    );
  }

  // (c) Redis primary SIGKILL
  if (want('c')) {
    const from = performance.now();
    redis.killPrimary();
    let back = Number.NaN;
    while (performance.now() - from < 30_000) {
      await sleep(200);
      const after = logins.filter((l) => l.at > from);
      const okAfter = after.find(
        (l, idx) => l.status === 200 && after.slice(0, idx).some((x) => x.status !== 200),
      );
      if (okAfter || (after.length > 3 && after.every((l) => l.status === 200))) {
        back = ((okAfter?.at ?? after[0]!.at) - from) / 1000;
        break;
      }
    }
    const to = performance.now();
    // Every host connected to the new primary first (/readyz 'ready' twice, 1 s apart; it
    // answers 200 'degraded' meanwhile and stays in the balancer): a host still reconnecting
    // answers logins 503 (the limiter fails closed). Within the 10 s.
    const readyHost = async (h: ApiHost) => {
      const readyz = async () => (await hostStatus(h)) === 'ready';
      while (performance.now() - from < 10_000) {
        if (await readyz()) {
          await sleep(1000);
          if (await readyz()) return true;
        }
        await sleep(100);
      }
      return false;
    };
    const ready = await Promise.all(hosts.map(readyHost));
    const allReady = (performance.now() - from) / 1000;
    hosts.forEach((h, i) => {
      if (!ready[i])
        console.log(
          `(c) ${h.name} not ready; its last log lines:\n${h.log.split('\n').slice(-15).join('\n')}`,
        );
    });
    // Limits still shared: 5 wrong passwords for one account spread over the 3 hosts, then
    // the right one on any host is refused (429) — the count lives on the new primary.
    const target = patients[patients.length - 1]!;
    const wrong: number[] = [];
    const unexpected: string[] = [];
    for (let i = 0; i < 5; i++) {
      const h = hosts[i % hosts.length]!;
      const r = await call(h.url, 'auth.login', undefined, {
        email: target.email,
        password: 'a wrong password!',
      });
      wrong.push(r.status);
      if (r.status !== 401) unexpected.push(`${h.name} ${r.status} ${r.text.slice(0, 300)}`);
    }
    if (unexpected.length) console.log(`(c) unexpected answers:\n  ${unexpected.join('\n  ')}`);
    const blocked = (
      await call(hosts[2]!.url, 'auth.login', undefined, {
        email: target.email,
        password: PASSWORD,
      })
    ).status;
    say(
      'c',
      `Redis primary SIGKILLed: logins back after ${back.toFixed(1)} s, every host ready ${
        ready.every(Boolean)
          ? `after ${allReady.toFixed(1)} s`
          : `NOT in 10 s (${hosts
              .filter((_, i) => !ready[i])
              .map((h) => h.name)
              .join(',')})`
      }; ${failuresBetween(from, to).length} requests failed meanwhile (logins fail closed while Redis takes no writes); then 5 wrong passwords over the 3 hosts (${wrong.join(',')}) and the right one answered ${blocked}`,
      {
        loginsBackSeconds: back,
        allReadySeconds: ready.every(Boolean) ? allReady : null,
        failedDuring: failuresBetween(from, to).length,
        wrongPasswords: wrong,
        afterLimit: blocked,
        pass: back < 10 && ready.every(Boolean) && wrong.every((s) => s === 401) && blocked === 429,
      },
    );
    await sleep(3000);
  }

  // (d) the replica stopped
  if (want('d')) {
    const from = performance.now();
    pair.stopReplica();
    await sleep(5000);
    const to = performance.now();
    const reads = samples.filter(
      (s) => s.at >= from && s.at <= to && (s.op === 'mood.list' || s.op === 'admin.users.list'),
    );
    const failed = reads.filter((s) => s.status !== 200);
    say('d', `replica stopped: ${failed.length} failed of ${reads.length} reads`, {
      failed: failed.length,
      reads: reads.length,
      failures: breakdown(failed),
      pass: failed.length === 0 && reads.length > 0,
    });
  }

  // (e) a revocation on host 1, refused on hosts 2 and 3
  if (want('e')) {
    const [h1, h2, h3] = hosts as [ApiHost, ApiHost, ApiHost];
    const p = eP; // kept apart: logoutAll ends its every session
    const token = data<{ accessToken: string }>(
      await call(h1.url, 'auth.login', undefined, {
        email: p.email,
        password: PASSWORD,
      }),
    ).accessToken;
    const me = (h: ApiHost) => call(h.url, 'auth.me', token, undefined, 'GET').then((r) => r.status);
    const before = [await me(h2), await me(h3)];
    const out = await call(h1.url, 'auth.logoutAll', token);
    const from = performance.now();
    if (out.status !== 200)
      console.log(`(e) logoutAll on api1 answered ${out.status} ${out.text.slice(0, 300)}`);
    const refusedAt: number[] = [];
    for (const h of [h2, h3]) {
      while (performance.now() - from < 3000) {
        if ((await me(h)) === 401) {
          refusedAt.push(performance.now() - from);
          break;
        }
        await sleep(10);
      }
    }
    const worst = Math.max(...refusedAt);
    say(
      'e',
      `revocation on api1 refused on api2 and api3 after ${refusedAt.map((ms) => `${ms.toFixed(0)} ms`).join(' and ')} (before: ${before.join(',')})`,
      {
        ms: refusedAt,
        pass: refusedAt.length === 2 && worst < 1000 && before.every((s) => s === 200),
      },
    );
  }

  // (f) one view refresh per tick across the hosts
  if (want('f')) {
    const runs = async () => {
      let winners = 0;
      let locked = 0;
      for (const h of hosts) {
        const res = await fetch(`${h.url}/metrics`, {
          headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        });
        if (!res.ok) throw new Error(`${h.name} /metrics answered ${res.status}`);
        const text = await res.text();
        for (const m of text.matchAll(/job_runs_total\{job="view-refresh",outcome="(\w+)"\} (\d+)/g)) {
          if (m[1] === 'ran' || m[1] === 'skipped_fresh') winners += Number(m[2]);
          if (m[1] === 'skipped_locked' || m[1] === 'skipped_running' || m[1] === 'skipped_done')
            locked += Number(m[2]);
        }
      }
      return { winners, locked };
    };
    // Between two ticks, then over 6 ticks.
    const offset = REFRESH_EVERY_S * 1000 - (Date.now() % (REFRESH_EVERY_S * 1000)) + 2000;
    await sleep(offset);
    const a = await runs();
    await sleep(6 * REFRESH_EVERY_S * 1000);
    const b = await runs();
    const ticks = 6;
    say(
      'f',
      `view refresh over ${ticks} ticks: ${b.winners - a.winners} runs across the hosts (${b.locked - a.locked} skipped by the others)`,
      {
        ticks,
        runs: b.winners - a.winners,
        skipped: b.locked - a.locked,
        pass: b.winners - a.winners === ticks,
      },
    );
  }

  // ---- faults of the dependencies (issue 24) ----------------------------------------------
  // Each under the load above plus a writer of its own (a patient kept apart, whose rows are
  // its writes alone): every write carries an Idempotency-Key and is sent again with the same
  // key until acknowledged, so acknowledgements must equal rows exactly (fewer rows: a lost
  // write; more: an in-doubt write that a retry duplicated).
  const isRunning = (h: ApiHost) => h.proc!.exitCode === null && h.proc!.signalCode === null;
  /** Every host running and answering /readyz 'ready', within limitMs of `from`: the seconds it took, or null. */
  const everyHostReady = async (from: number, limitMs: number) => {
    while (performance.now() - from < limitMs) {
      if (!hosts.every(isRunning)) return null;
      if ((await Promise.all(hosts.map(hostStatus))).every((st) => st === 'ready'))
        return (performance.now() - from) / 1000;
      await sleep(250);
    }
    return null;
  };
  /** Requests answered 504 by HAProxy (no answer from the host) or not at all. */
  const unanswered = (list: Sample[]) => list.filter((s) => s.status === 0 || s.status === 504);
  const without503RetryAfter = (list: Sample[]) => list.filter((s) => s.status === 503 && !s.retryAfter);
  const keyedWriter = (p: { id: string; token: string }, bases: string[]) => {
    let on = true;
    let stoppedAt = 0;
    const acked: number[] = [];
    const answers: Sample[] = [];
    const problems: string[] = [];
    let resent = 0;
    const loop = async (base: string) => {
      while (on) {
        const key = randomUUID();
        for (;;) {
          const at = performance.now();
          const r = await call(base, 'mood.log', p.token, { score: 5 }, 'POST', {
            'idempotency-key': key,
          }).catch(() => ({ status: 0, retryAfter: null, text: '' }));
          answers.push({
            at,
            end: performance.now(),
            op: 'mood.log+key',
            status: r.status,
            retryAfter: r.retryAfter,
          });
          if (r.status === 200) {
            acked.push(performance.now());
            break;
          }
          if (r.status >= 400 && r.status < 500 && r.status !== 429) {
            problems.push(`${r.status} ${r.text.slice(0, 200)}`);
            break;
          }
          if (!on && performance.now() - stoppedAt > 60_000) {
            problems.push('a write still in doubt 60 s after the fault');
            break;
          }
          resent += 1;
          await sleep(Math.min(1000, Number(r.retryAfter) * 1000 || 250));
        }
      }
    };
    const loops = bases.map(loop);
    return {
      acked,
      answers,
      problems,
      resent: () => resent,
      /** No new writes; the ones in doubt are sent until acknowledged. */
      async stop() {
        on = false;
        stoppedAt = performance.now();
        await Promise.all(loops);
      },
    };
  };
  /**
   * One fault: `fault()` makes it, under the load and a keyed writer through `bases`, and
   * resolves with the moment its dependency was back and what else it measured. Then: the
   * first write acknowledged after that moment, every host running (the same processes) and
   * ready again, the writer's acknowledgements against its rows, and the requests meanwhile.
   */
  const underFault = async <T extends Record<string, unknown>>(
    p: { id: string; token: string },
    bases: string[],
    fault: () => Promise<{ back: number } & T>,
  ) => {
    const writer = keyedWriter(p, bases);
    await sleep(1000);
    const from = performance.now();
    const pids = hosts.map((h) => h.proc!.pid);
    const { back, ...measured } = await fault();
    let writingAfter = Number.NaN;
    while (performance.now() - back < 30_000) {
      const acks = [
        ...writer.acked,
        ...samples.filter((s) => s.op === 'mood.log' && s.status === 200).map((s) => s.end),
      ].filter((t) => t >= back);
      if (acks.length) {
        writingAfter = (Math.min(...acks) - back) / 1000;
        break;
      }
      await sleep(100);
    }
    const readyAfter = await everyHostReady(back, 30_000);
    if (readyAfter === null) {
      // What is stuck: the pooler's view, and each host's pool figures.
      console.log(`not every host ready 30 s after: ${(await Promise.all(hosts.map(hostStatus))).join(',')}`);
      for (const cmd of ['SHOW POOLS', 'SHOW SERVERS'])
        console.log(`PgBouncer ${cmd}:\n${await bouncer.admin(cmd).catch((e: Error) => e.message)}`);
      for (const h of hosts) {
        const metrics = await fetch(`${h.url}/metrics`, {
          headers: { authorization: `Bearer ${METRICS_TOKEN}` },
          signal: AbortSignal.timeout(5000),
        }).then(
          (res) => res.text(),
          (e: Error) => e.message,
        );
        console.log(
          `${h.name}: ${metrics
            .split('\n')
            .filter((l) => /^db_pool|^db_call|^process_unhandled/.test(l))
            .join('; ')}`,
        );
      }
    }
    await writer.stop();
    const to = performance.now();
    const [row] = await onPrimary(
      () => primary<{ n: number }[]>`SELECT count(*)::int AS n FROM mood_entries WHERE user_id = ${p.id}`,
    );
    const during = [...samples, ...logins, ...writer.answers].filter((s) => s.at >= from && s.at <= to);
    const failed = during.filter((s) => s.status !== 200);
    const sameProcesses = hosts.every((h, i) => isRunning(h) && h.proc!.pid === pids[i]);
    return {
      ...(measured as unknown as T),
      downSeconds: (back - from) / 1000,
      writingAfter,
      readyAfter,
      hostsRunning: hosts.filter(isRunning).length,
      sameProcesses,
      acks: writer.acked.length,
      rows: row!.n,
      resent: writer.resent(),
      problems: writer.problems,
      requests: during.length,
      failed: failed.length,
      unanswered: unanswered(during).length,
      no503RetryAfter: without503RetryAfter(during).length,
      failures: breakdown(failed),
      /** The part of the verdict every fault shares. */
      sound:
        sameProcesses &&
        readyAfter !== null &&
        writer.problems.length === 0 &&
        writer.acked.length > 0 &&
        row!.n === writer.acked.length &&
        unanswered(during).length === 0,
    };
  };
  const faultLine = (r: Awaited<ReturnType<typeof underFault>>) =>
    `${r.hostsRunning}/3 hosts running (${r.sameProcesses ? 'the same processes' : 'NOT the same processes'}), writing again ${r.writingAfter.toFixed(1)} s after it was back, every host ready after ${r.readyAfter === null ? 'NOT within 30 s' : `${r.readyAfter.toFixed(1)} s`}; keyed writer: ${r.acks} acknowledged / ${r.rows} rows (${r.resent} sent again with their key${r.problems.length ? `; ${r.problems.slice(0, 3).join('; ')}` : ''}); ${r.failed} of ${r.requests} requests failed meanwhile, ${r.unanswered} without an answer`;

  // (g) PostgreSQL primary: pg_ctl -m fast restart, behind PgBouncer
  if (want('g')) {
    const r = await underFault(gP, [lb, lb], async () => {
      await pair.restartPrimary();
      return { back: performance.now() };
    });
    say('g', `PostgreSQL primary fast restart (${r.downSeconds.toFixed(1)} s): ${faultLine(r)}`, {
      ...r,
      pass: r.sound && r.writingAfter < 5,
    });
  }

  // (h) PostgreSQL primary: SIGKILL of the postmaster, then a start (crash recovery)
  if (want('h')) {
    const r = await underFault(hP, [lb, lb], async () => {
      pair.killPrimary();
      await pair.startPrimary();
      return { back: performance.now() };
    });
    say('h', `PostgreSQL primary SIGKILL + start (${r.downSeconds.toFixed(1)} s): ${faultLine(r)}`, {
      ...r,
      pass: r.sound && r.writingAfter < 5,
    });
  }

  // (i) Redis and the 3 sentinels down for 30 s
  if (want('i')) {
    const [h1, h2, h3] = hosts as [ApiHost, ApiHost, ApiHost];
    const me = (h: ApiHost) => call(h.url, 'auth.me', revokedP.token, undefined, 'GET').then((x) => x.status);
    const r = await underFault(iP, [lb, lb], async () => {
      const from = performance.now();
      await redis.stopAll();
      // The hosts notice (a Redis command times out after 1 s; /readyz is cached 1 s).
      await sleep(4000);
      const readyz = await Promise.all(hosts.map(hostStatus));
      // Direct reads and writes on each host, and a login (503, fails closed).
      const direct: string[] = [];
      for (const h of hosts) {
        const read = await call(h.url, 'mood.list', revokedP.token, { limit: 5 }, 'GET');
        const write = await call(h.url, 'mood.log', revokedP.token, { score: 4 });
        const login = await call(h.url, 'auth.login', undefined, { email: gP.email, password: PASSWORD });
        direct.push(
          `${read.status}/${write.status}/${login.status}${login.retryAfter ? '+Retry-After' : ''}`,
        );
      }
      // A revocation on api1 meanwhile: the others learn it from the database resync.
      const before = [await me(h2), await me(h3)];
      const out = await call(h1.url, 'auth.logoutAll', revokedP.token);
      const revokedAt = performance.now();
      const refusedMs: number[] = [];
      for (const h of [h2, h3])
        while (performance.now() - revokedAt < 10_000) {
          if ((await me(h)) === 401) {
            refusedMs.push(performance.now() - revokedAt);
            break;
          }
          await sleep(10);
        }
      await sleep(from + OUTAGE_S * 1000 - performance.now());
      const lbDuring = samples.filter((s) => s.at >= from + 4000 && s.end <= performance.now());
      await redis.upAgain();
      const back = performance.now();
      let loginsBack = Number.NaN;
      while (performance.now() - back < 30_000) {
        const ok = logins.find((l) => l.at >= back && l.status === 200);
        if (ok) {
          loginsBack = (ok.end - back) / 1000;
          break;
        }
        await sleep(100);
      }
      return {
        back,
        readyz,
        direct,
        revocation: { before, logoutAll: out.status, refusedMs },
        // A clean refusal (503 with Retry-After: the client retries) is counted apart from a
        // failure (anything else, or no answer).
        lbFailed: lbDuring.filter((s) => s.status !== 200 && !(s.status === 503 && s.retryAfter)).length,
        lbRefused: lbDuring.filter((s) => s.status === 503 && s.retryAfter).length,
        lbRequests: lbDuring.length,
        loginsDuring: breakdown(logins.filter((l) => l.at >= from + 4000 && l.end <= back)),
        loginsBack,
      };
    });
    const revocationBound = OUTAGE_RESYNC_INTERVAL_MS + 1000;
    const worst = Math.max(...r.revocation.refusedMs);
    say(
      'i',
      `Redis + 3 sentinels down ${OUTAGE_S} s: /readyz ${r.readyz.join(',')}; through HAProxy ${r.lbFailed} of ${r.lbRequests} requests failed and ${r.lbRefused} were refused 503 with Retry-After (at most 0.1 % may be) (logins ${JSON.stringify(r.loginsDuring)}); direct read/write/login per host ${r.direct.join(' ')}; a revocation on api1 refused on api2 and api3 after ${r.revocation.refusedMs.map((ms) => `${ms.toFixed(0)} ms`).join(' and ')} (bound: the ${OUTAGE_RESYNC_INTERVAL_MS / 1000} s resync while the subscriber is away); logins back ${r.loginsBack.toFixed(1)} s after Redis; ${faultLine(r)}`,
      {
        ...r,
        revocationBoundMs: revocationBound,
        pass:
          r.sound &&
          r.readyz.every((st) => st === 'degraded') &&
          r.lbFailed === 0 &&
          r.lbRefused <= Math.max(1, r.lbRequests / 1000) &&
          Object.keys(r.loginsDuring).every((k) => k === 'auth.login 503') &&
          r.direct.every((d) => d === '200/200/503+Retry-After') &&
          r.revocation.before.every((st) => st === 200) &&
          r.revocation.logoutAll === 200 &&
          r.revocation.refusedMs.length === 2 &&
          worst < revocationBound &&
          r.loginsBack < 10,
      },
    );
  }

  // (j) PgBouncer PAUSE for 40 s, then RESUME
  if (want('j')) {
    const probes: Sample[] = [];
    const r = await underFault(jP, [lb, lb, hosts[0]!.url], async () => {
      const from = performance.now();
      let paused = true;
      // Reads straight to each host as well (not only through HAProxy, which takes them out).
      const probe = async (h: ApiHost) => {
        while (paused) {
          const at = performance.now();
          const x = await call(h.url, 'mood.list', jP.token, { limit: 5 }, 'GET').catch(() => ({
            status: 0,
            retryAfter: null,
          }));
          probes.push({
            at,
            end: performance.now(),
            op: `direct mood.list ${h.name}`,
            status: x.status,
            retryAfter: x.retryAfter,
          });
          await sleep(200);
        }
      };
      const probing = hosts.map(probe);
      await bouncer.admin('PAUSE');
      await sleep(from + PAUSE_S * 1000 - performance.now());
      await bouncer.admin('RESUME');
      const back = performance.now();
      paused = false;
      await Promise.all(probing);
      return { back };
    });
    const slowest = Math.max(...probes.map((s) => s.end - s.at));
    const pass =
      r.sound &&
      unanswered(probes).length === 0 &&
      without503RetryAfter(probes).length === 0 &&
      r.no503RetryAfter === 0;
    say(
      'j',
      `PgBouncer PAUSE ${PAUSE_S} s, RESUME: ${unanswered(probes).length} of ${probes.length} direct reads without an answer (slowest ${(slowest / 1000).toFixed(1)} s; ${probes.filter((s) => s.status === 503).length} answered 503, ${without503RetryAfter(probes).length} of them without Retry-After), ${r.no503RetryAfter} 503s through HAProxy without Retry-After; ${faultLine(r)}`,
      {
        ...r,
        probes: probes.length,
        probesUnanswered: unanswered(probes).length,
        probeFailures: breakdown(probes.filter((s) => s.status !== 200)),
        slowestProbeMs: slowest,
        pass,
      },
    );
  }

  // (k) one API host cut off from Redis (a blackhole route to Redis and the sentinels)
  if (want('k')) {
    const victim = hosts[0]!;
    if (!victim.netns || !net) {
      say('k', 'one host cut off from Redis: SKIPPED (needs the network namespaces: run as root)', {
        pass: true,
      });
    } else {
      const route = (op: 'add' | 'del') =>
        spawnSync('ip', ['-n', victim.netns!, 'route', op, 'blackhole', `${net.redis}/32`], {
          encoding: 'utf8',
        });
      const r = await underFault(kP, [victim.url, lb], async () => {
        const from = performance.now();
        const added = route('add');
        if (added.status !== 0) throw new Error(`ip route add blackhole: ${added.stderr}`);
        let degradedAfter = Number.NaN;
        while (performance.now() - from < CUT_S * 1000) {
          if ((await hostStatus(victim)) === 'degraded') {
            degradedAfter = (performance.now() - from) / 1000;
            break;
          }
          await sleep(200);
        }
        const others = await Promise.all(hosts.slice(1).map(hostStatus));
        const direct = await call(victim.url, 'mood.list', kP.token, { limit: 5 }, 'GET');
        await sleep(from + CUT_S * 1000 - performance.now());
        const othersFailed = samples.filter(
          (s) => s.at >= from && s.status !== 200 && s.op !== 'auth.login',
        ).length;
        route('del');
        const back = performance.now();
        let readyAgain = Number.NaN;
        while (performance.now() - back < 30_000) {
          if ((await hostStatus(victim)) === 'ready') {
            readyAgain = (performance.now() - back) / 1000;
            break;
          }
          await sleep(200);
        }
        return { back, degradedAfter, others, directRead: direct.status, othersFailed, readyAgain };
      });
      say(
        'k',
        `${victim.name} cut off from Redis for ${CUT_S} s: degraded after ${r.degradedAfter.toFixed(1)} s (the others: ${r.others.join(',')}), a direct read ${r.directRead}, ${r.othersFailed} requests (not logins) failed through HAProxy; ready again ${r.readyAgain.toFixed(1)} s after the cut ended; ${faultLine(r)}`,
        {
          ...r,
          pass:
            r.sound &&
            r.degradedAfter < CUT_S &&
            r.others.every((st) => st === 'ready') &&
            r.directRead === 200 &&
            r.othersFailed === 0 &&
            r.readyAgain < 10,
        },
      );
    }
  }

  running = false;
  await Promise.all([...workers, loginLoop]);
  // Acknowledged writes against rows (read on the primary).
  const rows = await onPrimary(
    () =>
      primary<
        { user_id: string; n: number }[]
      >`SELECT user_id, count(*)::int AS n FROM mood_entries GROUP BY user_id`,
  );
  const stored = new Map(rows.map((r) => [r.user_id, r.n]));
  const lostMood = [...moodAcks].reduce(
    (sum, [id, acks]) => sum + Math.max(0, acks - (stored.get(id) ?? 0)),
    0,
  );
  const [ackRows] = await onPrimary(
    () =>
      primary<{ n: number }[]>`SELECT count(*)::int AS n FROM crisis_alerts WHERE status = 'acknowledged'`,
  );
  const moodAckTotal = [...moodAcks.values()].reduce((a, b) => a + b, 0);
  say(
    'acks',
    `acknowledged writes vs rows: mood.log ${moodAckTotal} OK / ${[...moodAcks.keys()].reduce((a, id) => a + (stored.get(id) ?? 0), 0)} rows of the load's patients (${lostMood} lost; more rows: writes answered 503 or not at all that committed, sent without a key); crisis.acknowledge ${crisisAcks} OK / ${ackRows!.n} acknowledged rows`,
    {
      moodAcks: moodAckTotal,
      moodLost: lostMood,
      crisisAcks,
      crisisRows: ackRows!.n,
      pass: lostMood === 0 && crisisAcks <= ackRows!.n,
    },
  );
  const total = samples.length;
  const report = {
    at: new Date().toISOString(),
    variant: NETNS
      ? `network namespace ${NETNS} of its own; each API host in a namespace of its own (10.36.0.11-13), the services on the bridge (10.36.0.1)`
      : 'loopback of the machine (no network namespace: not root)',
    requests: total,
    logins: logins.length,
    results,
    pass: Object.values(results).every((r) => (r as { pass: boolean }).pass),
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/topology-latest.json', `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(
    'bench/results/topology-latest.md',
    [
      `# npm run topology — ${report.at}`,
      '',
      `HAProxy → 3 API hosts (production) → PgBouncer 1.18 (transaction) → PostgreSQL primary + streaming replica; Redis primary + replica + 3 Sentinels. ${report.variant}. ${total} requests under load, ${logins.length} logins.`,
      '',
      '| scenario | result | pass |',
      '| -------- | ------ | ---- |',
      ...Object.entries(results).map(
        ([k, v]) =>
          `| ${k} | ${(v as { summary: string }).summary} | ${(v as { pass: boolean }).pass ? 'yes' : 'NO'} |`,
      ),
      '',
    ].join('\n'),
  );
  console.log(`${report.pass ? 'PASS' : 'FAIL'}: bench/results/topology-latest.{json,md}`);
  process.exitCode = report.pass ? 0 : 1;
}

/** The namespaces of the API hosts of the run in namespace `ns`. */
function hostNamespaces(ns: string): string[] {
  return [1, 2, 3].map((i) => `${ns}-api${i}`);
}

/**
 * Three API hosts with a network namespace each, on a bridge in this (the run's) namespace:
 * this namespace is 10.36.0.1 (HAProxy, PgBouncer, PostgreSQL listen there) and 10.36.0.2
 * (Redis and the sentinels), the hosts are 10.36.0.11-13 and reach the services only over the bridge,
 * as separate machines would. The namespaces are deleted at the end.
 */
function hostNetworks(ns: string): {
  services: string;
  redis: string;
  hosts: string[];
  namespaces: string[];
} {
  const ip = (...args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  const services = '10.36.0.1';
  // Redis and the sentinels on an address of their own, which a host's route can cut alone (k).
  const redis = '10.36.0.2';
  ip('link', 'add', 'm360', 'type', 'bridge');
  ip('addr', 'add', `${services}/24`, 'dev', 'm360');
  ip('addr', 'add', `${redis}/24`, 'dev', 'm360');
  ip('link', 'set', 'm360', 'up');
  const namespaces = hostNamespaces(ns);
  const hosts = namespaces.map((host, i) => {
    const addr = `10.36.0.${11 + i}`;
    ip('netns', 'add', host);
    cleanups.push(() => spawnSync('ip', ['netns', 'del', host]));
    ip('link', 'add', `m360-api${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host);
    ip('link', 'set', `m360-api${i + 1}`, 'master', 'm360');
    ip('link', 'set', `m360-api${i + 1}`, 'up');
    ip('-n', host, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    ip('-n', host, 'link', 'set', 'eth0', 'up');
    ip('-n', host, 'link', 'set', 'lo', 'up');
    return addr;
  });
  return { services, redis, hosts, namespaces };
}

/** A host's /readyz status ('ready', 'degraded', 'unavailable', 'draining'), or 'no answer'. */
function hostStatus(h: { url: string }): Promise<string> {
  return fetch(`${h.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
    async (r) => ((await r.json()) as { status?: string }).status ?? `HTTP ${r.status}`,
    () => 'no answer',
  );
}

/** utime + stime of a process (/proc/PID/stat), or -1: a host's progress while it starts. */
function cpuTicks(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return -1;
  }
}

async function ok(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  );
}

const limit = setTimeout(() => {
  console.error(`topology run failed: over ${RUN_LIMIT_MS / 1000} s (TOPOLOGY_LIMIT_S), ${step}`);
  process.exitCode = 1;
  void cleanup().then(() => process.exit(1));
}, RUN_LIMIT_MS);
limit.unref();
try {
  await main();
} catch (err) {
  if (err instanceof MustSkip) {
    console.error(`topology run SKIPPED: ${err.message}`);
    process.exitCode = SKIPPED_EXIT_CODE;
  } else {
    console.error(`topology run failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
} finally {
  await cleanup();
  // Nothing of the run may keep it alive (a client reconnecting to a port that is gone):
  // after the cleanup the run ends, with its result.
  process.exit(process.exitCode ?? 0);
}
