// `npm run bench:serialize`: CPU per result encoding, superjson.serialize vs the product's
// serializeResult (server/trpc/transformer.ts), on the shapes of auth.me, mood.list and
// subscriptions.plans, each encoding followed by JSON.stringify as on the wire. Both in one
// process, interleaved rounds; prints µs per encoding (median of rounds).
import superjson from 'superjson';
import { serializeResult } from '../server/trpc/transformer.ts';

const me = {
  id: '6f1d3a4e-5b7c-4d2e-9f10-1a2b3c4d5e6f',
  email: 'bench1@bench.example',
  role: 'patient',
  privilegeLevel: 10,
  permissions: ['mood.read', 'mood.write', 'profile.read'],
  features: ['assessments', 'mood_tracking'],
  plan: 'free',
  expiresAt: new Date(),
};
const moodList = {
  items: Array.from({ length: 20 }, (_, i) => ({
    id: `6f1d3a4e-5b7c-4d2e-9f10-1a2b3c4d5e${String(i).padStart(2, '0')}`,
    score: 1 + (i % 10),
    note: null,
    tags: ['work', 'sleep'],
    createdAt: new Date(Date.now() - i * 86_400_000),
  })),
  nextCursor: 'MjAyNi0xMS0zMFQxMDowMDowMC4wMDBafDZmMWQ',
};
const plans = Array.from({ length: 4 }, (_, i) => ({
  code: ['free', 'basic', 'premium', 'enterprise'][i],
  name: 'Plan',
  tier: i,
  pricePaise: i * 49_900,
  features: ['assessments', 'mood_tracking', 'therapist_booking'].slice(0, i + 1),
}));

const ROUNDS = 7;
const N = 20_000;
function time(fn: () => unknown): number {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / N;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('| result | superjson µs | serializeResult µs | saved |');
console.log('|---|---:|---:|---:|');
for (const [name, value] of [
  ['auth.me', me],
  ['mood.list (20 entries)', moodList],
  ['subscriptions.plans', plans],
] as const) {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    a.push(time(() => JSON.stringify(superjson.serialize(value))));
    b.push(time(() => JSON.stringify(serializeResult(value))));
  }
  const sa = median(a);
  const sb = median(b);
  console.log(`| ${name} | ${sa.toFixed(2)} | ${sb.toFixed(2)} | ${(((sa - sb) / sa) * 100).toFixed(0)} % |`);
}
