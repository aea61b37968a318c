// Measures access-token verification in this process, same run, side by side:
// EdDSA and HS256, with and without the verified-token cache (TokenService cacheSize),
// plus the whole per-request auth path (verify + in-memory revocation check).
//   npx tsx scripts/bench-verify.ts [seconds per case, default 2]
import { randomBytes } from 'node:crypto';
import {
  buildKeyRing,
  generatePrivateJwk,
  hmacKeyRing,
  type KeyRing,
  parsePrivateKeys,
} from '../server/auth/keys.ts';
import { RevocationList } from '../server/auth/revocation.ts';
import { TokenService, type TokenSubject } from '../server/auth/tokens.ts';
import { PERMISSIONS } from '../shared/catalog.ts';

const seconds = Number(process.argv[2] ?? 2);

const subject: TokenSubject = {
  id: '6f1c1a7e-3b6a-4d8e-9a51-2f4b1d9c8e70',
  email: 'asha.rao@example.com',
  role: 'admin',
  privilegeLevel: 90,
  permissions: PERMISSIONS.slice(0, 11),
  features: ['mood_tracking', 'assessments', 'therapist_booking', 'data_export'],
  plan: 'basic',
};
const sid = '0b7d4f2a-9c1e-4a3b-8d6f-5e2c1b0a9f8e';

async function opsPerSecond(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 500; i++) await fn(); // warm up (JIT, key import paths)
  let n = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < 100; i++) await fn();
    n += 100;
  }
  return n / ((performance.now() - started) / 1000);
}

async function run(label: string, keys: KeyRing) {
  const opts = { keys, issuer: 'manas360', audience: 'manas360-api', ttlSeconds: 900 };
  const uncached = new TokenService({ ...opts, cacheSize: 0 });
  const cached = new TokenService({ ...opts, cacheSize: 10_000 });
  const { token } = await uncached.sign(subject, sid);
  const revocations = new RevocationList();
  // A realistic revocation list: 10,000 entries that do not concern this token.
  for (let i = 0; i < 10_000; i++)
    revocations.apply({ kind: 'user', id: crypto.randomUUID(), at: Math.floor(Date.now() / 1000) });

  const without = await opsPerSecond(() => uncached.verify(token));
  const withCache = await opsPerSecond(() => cached.verify(token));
  const fullPath = await opsPerSecond(async () => {
    const claims = await cached.verify(token);
    if (revocations.isRevoked(claims)) throw new Error('unexpected');
  });
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);
  console.log(
    `${label.padEnd(7)} token ${String(token.length).padStart(4)} B | verify without cache ${fmt(without)} ops/s | with cache ${fmt(withCache)} ops/s (x${(withCache / without).toFixed(1)}) | cached verify + revocation check ${fmt(fullPath)} ops/s`,
  );
}

console.log(`node ${process.version}, ${seconds} s per case, one core`);
await run(
  'EdDSA',
  await buildKeyRing(parsePrivateKeys(JSON.stringify({ keys: [await generatePrivateJwk()] }))),
);
await run('HS256', hmacKeyRing(randomBytes(32).toString('hex')));
