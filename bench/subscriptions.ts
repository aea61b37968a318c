// npm run bench:subscriptions: what an idle crisis.onChange subscriber costs the API process
// (memory per open SSE stream) and how long one event takes to reach N subscribers on one
// process (from the feed reading it to the last subscriber receiving it). Yardstick, in the
// same run: a raw node:http server holding N idle chunked responses and writing one event to
// all of them. Targets (issue 27): ≤ 20 KB per subscriber, ≤ 1 s fan-out at N = 10,000.
//
// The server runs in a child process (`bench/subscriptions.ts server app|raw`, with
// --expose-gc so memory is read after a full collection), on the embedded PGlite in memory;
// this process opens the N streams over HTTP (plain node:http, not an EventSource: the client
// side is not what is measured) and times the event's arrival. Short: about a minute of CPU.
//   SUBSCRIBERS=10000 npm run bench:subscriptions
import { type ChildProcess, fork } from 'node:child_process';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';

const N = Number(process.env.SUBSCRIBERS ?? 10_000);
const PER_USER = 100;
const BATCH = 250;

type Msg =
  | { type: 'ready'; url: string; tokens: string[] }
  | { type: 'memory'; heap: number; external: number; rss: number; subscribers: number }
  | { type: 'raised'; at: number };

const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- the server (child process)
async function serve(mode: 'app' | 'raw') {
  const send = (m: Msg) => process.send!(m);
  const memory = (subscribers: number) => {
    (globalThis as { gc?: () => void }).gc?.();
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    send({
      type: 'memory',
      heap: m.heapUsed,
      external: m.external + m.arrayBuffers,
      rss: m.rss,
      subscribers,
    });
  };
  if (mode === 'raw') {
    const { createServer } = await import('node:http');
    const open = new Set<import('node:http').ServerResponse>();
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: connected\ndata: {}\n\n');
      open.add(res);
      req.on('close', () => open.delete(res));
    });
    server.keepAliveTimeout = 0;
    server.requestTimeout = 0;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    send({ type: 'ready', url, tokens: [''] });
    process.on('message', (m: { cmd: string }) => {
      if (m.cmd === 'memory') memory(open.size);
      if (m.cmd === 'raise') {
        const at = now();
        const line = `id: 1\ndata: ${JSON.stringify({ id: '1', kind: 'raised', at: new Date().toISOString() })}\n\n`;
        for (const res of open) res.write(line);
        send({ type: 'raised', at });
      }
      if (m.cmd === 'exit') process.exit(0);
    });
    return;
  }
  const { randomUUID } = await import('node:crypto');
  const { sql } = await import('drizzle-orm');
  const { createDatabase, queryRows } = await import('../db/client.ts');
  const { z } = await import('zod');
  const { loadConfig } = await import('../server/config.ts');
  const { createDeps, createLogger } = await import('../server/create-services.ts');
  const { buildServer } = await import('../server/app.ts');
  const config = loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    JWT_SECRET: randomUUID() + randomUUID(),
    RATE_LIMIT_ENABLED: 'false',
    JOBS_ENABLED: 'false',
    SUBSCRIPTIONS_PER_PROCESS: String(N + 100),
    CRISIS_SUBSCRIPTIONS_PER_USER: String(PER_USER),
    ACCESS_TOKEN_TTL_SECONDS: '3600',
  });
  const database = await createDatabase({ memory: true });
  await database.migrate();
  const deps = await createDeps(config, { database, log: createLogger(config) });
  const app = await buildServer(deps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  // Staff tokens (a therapist's claims: crisis.manage), PER_USER streams each.
  const [perms] = await queryRows(
    deps.db,
    z.object({ permissions: z.array(z.string()) }),
    sql`SELECT coalesce(array_agg(p.name), '{}') AS permissions
        FROM roles r JOIN role_permissions rp ON rp.role_id = r.id JOIN permissions p ON p.id = rp.permission_id
        WHERE r.name = 'therapist'`,
  );
  const tokens: string[] = [];
  for (let i = 0; i < Math.ceil(N / PER_USER); i += 1) {
    const signed = await deps.tokens.sign(
      {
        id: randomUUID(),
        email: `staff${i}@bench.test`,
        role: 'therapist',
        privilegeLevel: 40,
        permissions: perms!.permissions,
        features: [],
        plan: 'free',
        privacyNotice: config.PRIVACY_NOTICE_VERSION,
      },
      randomUUID(),
    );
    tokens.push(signed.token);
  }
  // A patient whose crisis alerts the bench raises.
  const [patient] = await queryRows(
    deps.db,
    z.object({ id: z.string() }),
    sql`INSERT INTO users (email, name, password_hash, role_id)
        SELECT 'patient@bench.test', 'Bench Patient', 'x', id FROM roles WHERE name = 'patient' RETURNING id`,
  );
  send({ type: 'ready', url, tokens });
  process.on('message', async (m: { cmd: string }) => {
    if (m.cmd === 'memory') memory(deps.crisisFeed.size);
    if (m.cmd === 'raise') {
      // An alert (its event is written by the trigger), then: from the feed's read on.
      await deps.db.execute(sql`WITH a AS (
          INSERT INTO assessments (user_id, instrument, answers, score, severity, crisis)
          VALUES (${patient!.id}, 'PHQ9', ARRAY[1,1,1,1,1,1,1,1,2]::smallint[], 10, 'moderate', true) RETURNING id, user_id)
        INSERT INTO crisis_alerts (user_id, assessment_id, last_assessment_id) SELECT user_id, id, id FROM a`);
      const at = now();
      await deps.crisisFeed.pull();
      send({ type: 'raised', at });
    }
    if (m.cmd === 'exit') process.exit(0);
  });
}

// ---------------------------------------------------------------- the driver (this process)
function child(mode: 'app' | 'raw'): { proc: ChildProcess; next: (type: Msg['type']) => Promise<Msg> } {
  const proc = fork(new URL(import.meta.url).pathname, ['server', mode], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting: Array<{ type: Msg['type']; resolve: (m: Msg) => void }> = [];
  proc.on('message', (m: Msg) => {
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
  });
  return {
    proc,
    next: (type) => new Promise((resolve) => waiting.push({ type, resolve })),
  };
}

interface Stream {
  connected: Promise<void>;
  /** When the first data event (not `connected`) arrived. */
  got: number | undefined;
  close(): void;
}

function openStream(url: string, token: string, onEvent: () => void): Stream {
  const input = encodeURIComponent(JSON.stringify({ json: {} }));
  let connected!: () => void;
  const s: Stream = {
    connected: new Promise((r) => {
      connected = r;
    }),
    got: undefined,
    close: () => req.destroy(),
  };
  const req = request(
    `${url}/trpc/crisis.onChange?input=${input}`,
    {
      headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      agent: false,
    },
    (res) => {
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        if (buf.includes('event: connected')) connected();
        if (s.got === undefined && /(^|\n)id: /.test(buf)) {
          s.got = now();
          onEvent();
        }
        if (buf.length > 4096) buf = buf.slice(-1024);
      });
    },
  );
  req.on('error', () => {});
  req.end();
  return s;
}

async function run(mode: 'app' | 'raw') {
  const { proc, next } = child(mode);
  const ready = (await next('ready')) as Extract<Msg, { type: 'ready' }>;
  proc.send({ cmd: 'memory' });
  const before = (await next('memory')) as Extract<Msg, { type: 'memory' }>;
  const streams: Stream[] = [];
  let received = 0;
  let allReceived!: () => void;
  const all = new Promise<void>((r) => {
    allReceived = r;
  });
  const onEvent = () => {
    received += 1;
    if (received === N) allReceived();
  };
  const opened = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const batch: Stream[] = [];
    for (let j = i; j < Math.min(N, i + BATCH); j += 1)
      batch.push(
        openStream(ready.url, ready.tokens[Math.floor(j / PER_USER) % ready.tokens.length]!, onEvent),
      );
    await Promise.all(batch.map((s) => s.connected));
    streams.push(...batch);
  }
  const openMs = performance.now() - opened;
  proc.send({ cmd: 'memory' });
  const after = (await next('memory')) as Extract<Msg, { type: 'memory' }>;
  proc.send({ cmd: 'raise' });
  const raised = (await next('raised')) as Extract<Msg, { type: 'raised' }>;
  await all;
  const last = Math.max(...streams.map((s) => s.got!));
  const first = Math.min(...streams.map((s) => s.got!));
  for (const s of streams) s.close();
  proc.send({ cmd: 'exit' });
  await new Promise((r) => proc.once('exit', r));
  const per = (bytes: number) => bytes / N / 1024;
  return {
    mode,
    subscribers: after.subscribers,
    openSeconds: openMs / 1000,
    heapKB: per(after.heap - before.heap),
    externalKB: per(after.external - before.external),
    rssKB: per(after.rss - before.rss),
    firstMs: first - raised.at,
    fanoutMs: last - raised.at,
  };
}

async function main() {
  console.log(`bench:subscriptions: ${N} idle SSE subscribers on one process, then one event to all`);
  const raw = await run('raw');
  const app = await run('app');
  const row = (r: typeof raw) =>
    `${r.mode.padEnd(4)} subscribers ${r.subscribers}  opened in ${r.openSeconds.toFixed(1)} s  per subscriber: heap ${r.heapKB.toFixed(1)} KB + external ${r.externalKB.toFixed(1)} KB (RSS ${r.rssKB.toFixed(1)} KB)  event: first ${r.firstMs.toFixed(0)} ms, all ${r.fanoutMs.toFixed(0)} ms`;
  console.log(row(raw));
  console.log(row(app));
  const appKB = app.heapKB + app.externalKB;
  const rawKB = raw.heapKB + raw.externalKB;
  console.log(
    `crisis.onChange vs raw node:http: memory per subscriber ${appKB.toFixed(1)} KB vs ${rawKB.toFixed(1)} KB (×${(appKB / rawKB).toFixed(1)}; target ≤ 20 KB), fan-out to all ${app.fanoutMs.toFixed(0)} ms vs ${raw.fanoutMs.toFixed(0)} ms (×${(app.fanoutMs / raw.fanoutMs).toFixed(1)}; target ≤ 1000 ms)`,
  );
  if (app.subscribers !== N) throw new Error(`only ${app.subscribers} of ${N} subscriptions were open`);
}

if (process.argv[2] === 'server') await serve(process.argv[3] as 'app' | 'raw');
else await main();
