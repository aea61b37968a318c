// `npm run bench:download-budget`: N report downloads (GET /reports/mood?format=csv, an
// Enterprise account whose mood entries carry 20 tags of 40 characters: ~850 bytes a CSV
// line) opened at once and never read. Prints the server's resident memory before and with
// them open (issue 32 #4: 1,000 paused reports took +2.7 GB; target: under +200 MB), and how
// many were answered 200 (all N: the caps are raised so every download is really open and
// paused; the idle timeout is set beyond the run). The yardstick, in the same run: N idle
// keep-alive connections to the same server (what N sockets cost without a download).
// Real server process (bench/server.ts), real PostgreSQL.
//
// Options: --downloads 1000 --rows 3000 --port 3191. DATABASE_URL: the server to create
// the bench database on (manas360_download_budget, dropped at the end).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type ClientRequest, request } from 'node:http';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { DEFAULT_PRIVACY_NOTICE_VERSION } from '../server/config.ts';
import { confirmRegistration } from '../test/support/register.ts';
import { ensureDatabase } from './seed.ts';
import { startBenchServer } from './spawn.ts';

const { values: args } = parseArgs({
  options: {
    downloads: { type: 'string', default: '1000' },
    rows: { type: 'string', default: '3000' },
    port: { type: 'string', default: '3191' },
  },
});
const N = Number(args.downloads);
const ROWS = Number(args.rows);
const PORT = Number(args.port);
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'manas360_download_budget';
const log = (m: string) => console.error(`[download-budget] ${m}`);

const dbUrl = await ensureDatabase(BASE_URL, DB_NAME);
const server = await startBenchServer({
  mode: 'app',
  port: PORT,
  dbUrl,
  env: {
    DOWNLOADS_PER_USER: String(N),
    DOWNLOADS_PER_PROCESS: String(N),
    DOWNLOAD_IDLE_SECONDS: '600',
    REPORTS_PER_HOUR: String(N * 2),
  },
});
const rssMb = () => {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** RSS once it has stopped moving (two readings 1 s apart within 2 MB), at most 20 s. */
async function settledRss(): Promise<number> {
  let last = rssMb();
  for (let i = 0; i < 20; i += 1) {
    await sleep(1000);
    const now = rssMb();
    if (Math.abs(now - last) < 2) return now;
    last = now;
  }
  return last;
}

/** RSS after a full collection (bench/server.ts /bench/gc; node --expose-gc), once settled. */
async function gcRss(): Promise<number> {
  await settledRss();
  const res = await fetch(`http://127.0.0.1:${PORT}/bench/gc`);
  const m = (await res.json()) as { rss: number; heapTotal: number; heapUsed: number; external: number };
  const f = (x: number) => `${(x / 1048576).toFixed(0)} MB`;
  log(`rss ${f(m.rss)}, heap ${f(m.heapUsed)} used of ${f(m.heapTotal)}, external ${f(m.external)}`);
  return m.rss / 1048576;
}

async function trpc(path: string, input: unknown, token?: string) {
  const res = await fetch(`http://127.0.0.1:${PORT}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ json: input }),
  });
  const body = (await res.json()) as { result?: { data?: { json?: Record<string, unknown> } } };
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
  return body.result!.data!.json!;
}

const refusals = new Set<string>();
/**
 * Opens `n` requests to `path`, 25 at a time (so the database pool is not the limit), and
 * never reads their bodies; resolves with their statuses.
 */
async function openPaused(n: number, path: string, token: string) {
  const reqs: ClientRequest[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < n; i += 25) statuses.push(...(await openSome(Math.min(25, n - i), path, token, reqs)));
  return { statuses, reqs };
}

function openSome(n: number, path: string, token: string, reqs: ClientRequest[]): Promise<number[]> {
  const answers = Array.from(
    { length: n },
    () =>
      new Promise<number>((resolve) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: PORT,
            path,
            agent: false,
            headers: { authorization: `Bearer ${token}` },
          },
          (res) => {
            if (res.statusCode !== 200) {
              let body = '';
              res.on('data', (d: Buffer) => {
                body += d.toString();
              });
              res.on('end', () => {
                if (!refusals.has(body)) log(`${res.statusCode}: ${body.slice(0, 300)}`);
                refusals.add(body);
              });
            } else res.pause(); // read nothing
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', () => resolve(0));
        req.end();
        reqs.push(req);
      }),
  );
  return Promise.all(answers);
}

try {
  const email = `reports.${randomUUID()}@bench.example`;
  const password = 'bench download budget password';
  await trpc('auth.register', {
    email,
    password,
    name: 'Bench',
    acceptPrivacyNotice: DEFAULT_PRIVACY_NOTICE_VERSION,
  });
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  // Confirmed as its emailed link would (registration leaves the account pending).
  await confirmRegistration(sql, email);
  const [user] = await sql<{ id: string }[]>`SELECT id FROM users WHERE email = ${email}`;
  const userId = user!.id;
  await sql`UPDATE subscriptions SET plan_id = (SELECT id FROM plans WHERE code = 'enterprise') WHERE user_id = ${userId}`;
  const tags = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}${'t'.repeat(38)}`);
  await sql`INSERT INTO mood_entries (user_id, score, tags, created_at)
            SELECT ${userId}, 1 + g % 10, ${tags}::text[], now() - make_interval(mins => g)
            FROM generate_series(1, ${ROWS}) g`;
  await sql.end();
  const token = (await trpc('auth.login', { email, password })).accessToken as string;
  const to = new Date(Date.now() + 60_000).toISOString();
  const from = new Date(Date.now() - 1000 * 86_400_000).toISOString();
  const path = `/reports/mood?from=${from}&to=${to}&format=csv`;

  // Warm-up: one complete download (JIT, pool).
  const whole = await fetch(`http://127.0.0.1:${PORT}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const bytes = (await whole.arrayBuffer()).byteLength;
  if (whole.status !== 200) throw new Error(`the report answered ${whole.status}`);
  log(`one report: ${(bytes / 1e6).toFixed(1)} MB`);

  const base = await gcRss();
  // Yardstick: N idle connections (a request for /healthz each, answered, the socket kept).
  const idle = await openPaused(N, '/healthz', token);
  const withSockets = await gcRss();
  for (const r of idle.reqs) r.destroy();
  await sleep(2000);
  const base2 = await gcRss();
  const started = performance.now();
  const paused = await openPaused(N, path, token);
  const opened = performance.now() - started;
  const withDownloads = await gcRss();
  const withDownloadsRaw = rssMb();
  const ok = paused.statuses.filter((s) => s === 200).length;
  const byStatus = new Map<number, number>();
  for (const s of paused.statuses) byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
  for (const r of paused.reqs) r.destroy();
  await sleep(3000);
  const after = await gcRss();

  const stats = (await (await fetch(`http://127.0.0.1:${PORT}/bench/stats`)).json()) as { cpuUs: number };
  const mb = (x: number) => `${x.toFixed(0)} MB`;
  console.log(
    `download budget: ${N} paused GET ${path.split('?')[0]}?format=csv (${ROWS} rows, ${(bytes / 1e6).toFixed(1)} MB each), ` +
      `${ok}/${N} answered 200 in ${(opened / 1000).toFixed(1)} s (${[...byStatus].map(([s, n]) => `${s}×${n}`).join(', ')})`,
  );
  console.log(
    `server RSS: idle ${mb(base)}; with ${N} idle connections ${mb(withSockets)} (+${mb(withSockets - base)})`,
  );
  console.log(
    `server RSS: idle ${mb(base2)}; with ${N} paused downloads ${mb(withDownloads)} (+${mb(withDownloads - base2)}); ` +
      `after they closed ${mb(after)} (RSS before the collection: ${mb(withDownloadsRaw)})`,
  );
  console.log(
    `paused downloads / idle connections (memory added) = ${((withDownloads - base2) / Math.max(1, withSockets - base)).toFixed(2)}; ` +
      `target: + under 200 MB`,
  );
  console.log(`server CPU for the whole run: ${(stats.cpuUs / 1e6).toFixed(1)} s`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  const admin = postgres(BASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS "${DB_NAME}" WITH (FORCE)`);
  await admin.end();
  log('done');
}
