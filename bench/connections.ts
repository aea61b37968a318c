// `npm run bench:connections -- --connections 5000`: memory per idle keep-alive connection.
// Starts the product server (bench/server.ts, lean path) on the bench database, measures
// its RSS after a full GC, opens N keep-alive connections that each make one request
// (auth.me) and then sit idle, measures RSS again (after GC), and reports the difference
// per connection. Writes bench/results/connections.json. The npm script raises `ulimit -n` to
// 250,000 where it may (CAP_SYS_RESOURCE), else to the hard limit, for this process and the
// server it starts (each holds N sockets; openFileLimit in the result); each connection
// binds its own source address in 127.0.0.0/8 (127.1.x.y, 250 connections per address), so
// the ~28,000 ephemeral ports of one address do not cap N.
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDatabase, ensureUsers } from './seed.ts';
import { startBenchServer } from './spawn.ts';

const { values: args } = parseArgs({
  options: { connections: { type: 'string', default: '5000' }, path: { type: 'string', default: 'lean' } },
});
const N = Number(args.connections);
const ROOT = new URL('..', import.meta.url).pathname;
const PORT = 3192;
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (m: string) => console.error(`[connections] ${m}`);

const dbUrl = await ensureDatabase(BASE_URL, 'manas360_bench');
await ensureUsers(dbUrl, 1000, log);
const child = await startBenchServer({ mode: 'app', port: PORT, dbUrl, env: { TRPC_PATH: args.path } });
const gcRss = async () => {
  let rss = 0;
  for (let i = 0; i < 3; i++)
    rss = ((await (await fetch(`http://127.0.0.1:${PORT}/bench/gc`)).json()) as { rss: number }).rss;
  return rss;
};

try {
  // Warm the server up so the baseline includes JIT-compiled code and pools.
  for (let i = 0; i < 200; i++) await fetch(`http://127.0.0.1:${PORT}/trpc/subscriptions.plans`);
  const before = await gcRss();
  const sockets: Socket[] = [];
  const request = `GET /trpc/subscriptions.plans HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`;
  for (let opened = 0; opened < N; opened += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, N - opened) }, () => {
        return new Promise<void>((resolve, reject) => {
          const i = sockets.length;
          const localAddress = `127.1.${Math.floor(i / 250 / 250) % 256}.${1 + (Math.floor(i / 250) % 250)}`;
          const s = connect({ port: PORT, host: '127.0.0.1', localAddress }, () => s.write(request));
          s.once('data', () => resolve());
          s.once('error', reject);
          sockets.push(s);
        });
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = await gcRss();
  const open = sockets.filter((s) => !s.destroyed).length;
  // Per connection the server still holds (a few may have been closed at the file limit).
  const perConnectionKB = (after - before) / 1024 / open;
  const result = {
    at: new Date().toISOString(),
    command: `npm run bench:connections -- --connections ${N}`,
    path: args.path,
    connections: N,
    stillOpen: open,
    rssBeforeMB: before / 1024 / 1024,
    rssAfterMB: after / 1024 / 1024,
    perConnectionKB,
    target: '≤ 10 KB (the plan assumed 400 KB)',
    openFileLimit: Number(process.env.BENCH_NOFILE ?? 0) || undefined,
  };
  log(
    `${N} idle keep-alive connections (${open} still open): RSS ${result.rssBeforeMB.toFixed(1)} → ${result.rssAfterMB.toFixed(1)} MB, ${perConnectionKB.toFixed(1)} KB per connection`,
  );
  writeFileSync(join(ROOT, 'bench/results/connections.json'), `${JSON.stringify(result, null, 2)}\n`);
  for (const s of sockets) s.destroy();
} finally {
  child.kill('SIGTERM');
}
