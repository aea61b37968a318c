// `npm run bench:login-flood`: one client floods auth.login with its own account (30 logins
// in flight, each retried at once) while another client logs in now and then. Prints that
// other client's login latency (p50/p95) idle and under the flood (issue 9 #4: it went
// from 0.5 s to 6–8 s; target: p95 under the flood ≤ 2× idle). Real server process
// (bench/server.ts, the product server), real PostgreSQL, production scrypt cost (2^17),
// TRUST_PROXY so X-Forwarded-For gives each client its own address.
//
// --addresses N spreads the flood over N addresses (issue 32 #7: 30 addresses, each within
// its own bound; target: p95 under the flood ≤ 3× idle); the other user's logins then come
// from distinct addresses too (other people, not one client logging in twice a second).
// The flood phase is measured once every flood address has had an answer; the first login
// as the flood starts — when 30 new addresses asking once look like 30 people logging in at
// the same moment, and are served in turn — is printed apart.
//
// Options: --attackers 30 --addresses 1 --samples 20 --port 3190. PASSWORD_HASH_* from the environment
// reach the server (default: the product defaults). DATABASE_URL: the server to create
// the bench database on (manas360_login_flood, dropped at the end).
import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { DEFAULT_PRIVACY_NOTICE_VERSION } from '../server/config.ts';
import { confirmRegistration } from '../test/support/register.ts';
import { ensureDatabase } from './seed.ts';
import { startBenchServer } from './spawn.ts';

const { values: args } = parseArgs({
  options: {
    attackers: { type: 'string', default: '30' },
    addresses: { type: 'string', default: '1' },
    samples: { type: 'string', default: '20' },
    port: { type: 'string', default: '3190' },
  },
});
const ATTACKERS = Number(args.attackers);
const ADDRESSES = Number(args.addresses);
const SAMPLES = Number(args.samples);
const PORT = Number(args.port);
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'manas360_login_flood';
const log = (m: string) => console.error(`[login-flood] ${m}`);

const dbUrl = await ensureDatabase(BASE_URL, DB_NAME);
const server = await startBenchServer({
  mode: 'app',
  port: PORT,
  dbUrl,
  env: {
    TRUST_PROXY: 'true',
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('PASSWORD_HASH_'))),
  },
});
const url = `http://127.0.0.1:${PORT}/trpc`;

async function call(path: string, input: unknown, ip: string) {
  const res = await fetch(`${url}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ json: input }),
  });
  await res.arrayBuffer();
  return res.status;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

try {
  const password = 'bench login flood password';
  const victim = { email: `victim.${randomUUID()}@bench.example`, password, ip: '198.51.100.7' };
  const attacker = { email: `attacker.${randomUUID()}@bench.example`, password, ip: '203.0.113.66' };
  for (const who of [victim, attacker]) {
    const status = await call(
      'auth.register',
      { email: who.email, password, name: 'Bench', acceptPrivacyNotice: DEFAULT_PRIVACY_NOTICE_VERSION },
      who.ip,
    );
    if (status !== 200) throw new Error(`register answered ${status}`);
  }
  // Both accounts confirmed as their emailed links would (registration leaves them pending).
  const pg = postgres(dbUrl, { max: 1, onnotice: () => {} });
  for (const who of [victim, attacker]) await confirmRegistration(pg, who.email);
  await pg.end();

  /** The victim's logins, one after another with a short pause: wall time of each. */
  let victimSeq = 0;
  async function victimLogins(samples = SAMPLES): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      const started = performance.now();
      victimSeq += 1;
      const ip =
        ADDRESSES > 1 ? `198.51.${100 + Math.floor(victimSeq / 250)}.${1 + (victimSeq % 250)}` : victim.ip;
      const status = await call('auth.login', { email: victim.email, password }, ip);
      times.push(performance.now() - started);
      if (status !== 200) throw new Error(`the victim's login answered ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return times;
  }

  let flooding = false;
  const answers = new Map<number, number>();
  /** Keeps ATTACKERS logins in flight, each retried as soon as it is answered. */
  async function flood(during: Promise<unknown>) {
    flooding = true;
    const loops = Array.from({ length: ATTACKERS }, async (_, n) => {
      const ip = ADDRESSES > 1 ? `203.0.113.${1 + (n % ADDRESSES)}` : attacker.ip;
      while (flooding) {
        const status = await call('auth.login', { email: attacker.email, password }, ip);
        answers.set(status, (answers.get(status) ?? 0) + 1);
      }
    });
    await during;
    flooding = false;
    await Promise.all(loops);
  }

  await victimLogins(); // warm-up (JIT, pool, the dummy hash)
  // Idle and flooded phases alternate, so a change in the machine's load hits both alike.
  const idle: number[] = [];
  const attacked: number[] = [];
  const firstUnderFlood: number[] = [];
  for (let round = 0; round < 2; round += 1) {
    idle.push(...(await victimLogins()));
    let done!: () => void;
    const stopped = new Promise<void>((r) => {
      done = r;
    });
    const answered = () => [...answers.values()].reduce((a, b) => a + b, 0);
    const before = answered();
    const running = flood(stopped);
    // The first login after the flood starts: 30 new addresses asking once each look like 30
    // people logging in at the same moment, and are served in turn (reported apart).
    firstUnderFlood.push(...(await victimLogins(1)));
    // Then, once every flood address has had an answer, the flood proper.
    while (answered() - before < ATTACKERS) await new Promise((r) => setTimeout(r, 100));
    attacked.push(...(await victimLogins()));
    done();
    await running;
  }

  const ms = (x: number) => `${Math.round(x)} ms`;
  const row = (label: string, xs: number[]) =>
    `${label.padEnd(22)} p50 ${ms(percentile(xs, 50)).padStart(8)}   p95 ${ms(percentile(xs, 95)).padStart(8)}   max ${ms(Math.max(...xs)).padStart(8)}`;
  console.log(
    `login flood: ${ATTACKERS} logins in flight from ${ADDRESSES} address(es), ${SAMPLES * 2} logins of another user per phase (2 rounds); ` +
      `${availableParallelism()} CPUs, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  console.log(
    `server: PASSWORD_HASH_CONCURRENCY=${process.env.PASSWORD_HASH_CONCURRENCY ?? '(CPU count)'} ` +
      `PASSWORD_HASH_PER_IP=${process.env.PASSWORD_HASH_PER_IP ?? '(default)'} ` +
      `PASSWORD_HASH_QUEUE=${process.env.PASSWORD_HASH_QUEUE ?? '(default)'}`,
  );
  console.log(row('other IP, idle', idle));
  console.log(row('other IP, under flood', attacked));
  console.log(`other IP, first login as the flood starts: ${firstUnderFlood.map(ms).join(', ')}`);
  console.log(
    `attacker's answers: ${[...answers]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(', ')}`,
  );
  const ratio = percentile(attacked, 95) / percentile(idle, 95);
  console.log(`p95 under flood / p95 idle = ${ratio.toFixed(2)} (target ≤ ${ADDRESSES > 1 ? 3 : 2})`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  const admin = postgres(BASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS "${DB_NAME}" WITH (FORCE)`);
  await admin.end();
  log('done');
}
