// What checking raw-SQL rows costs (db/client.ts queryRows validates each row with its zod
// schema): the claims row that login, refresh and auth.exchangeApiKey read, and a page of
// an export section. Prints nanoseconds per row; no database needed.
//   npm run bench:row-check

import { z } from 'zod';
import { date } from '../db/row.ts';
import { claimsRow } from '../server/auth/claims.ts';
import { bumpedRow } from '../server/auth/revocation.ts';

const claims = {
  id: '6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c6a10',
  email: 'someone@example.com',
  name: 'Some One',
  status: 'active',
  password_hash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
  tokens_valid_after: 1796069876.123456,
  role: 'patient',
  privilege_level: 10,
  permissions: [
    'assessments.read',
    'assessments.submit',
    'data.export',
    'mood.read',
    'mood.write',
    'profile.read',
    'profile.update',
    'sessions.book',
    'sessions.read',
    'support.use',
  ],
  plan: 'premium',
  features: [
    'assessments',
    'data_export',
    'mood_tracking',
    'premium_dashboard',
    'priority_support',
    'therapist_booking',
  ],
  privacy_notice: '2026-01',
};
const mood = z.object({
  k_id: z.string(),
  k_at: z.string(),
  score: z.number(),
  note: z.string().nullable(),
  tags: z.array(z.string()),
});
const moodRow = {
  k_id: claims.id,
  k_at: '2026-11-30T21:11:34.287006Z',
  score: 7,
  note: 'a calmer day',
  tags: ['sleep', 'work'],
};
const withDate = z.object({ id: z.string(), created_at: date });
const dated = { id: claims.id, created_at: '2026-11-30 21:11:34.287006+00' };

/** Best of 5 rounds (the machine may be busy): ns per parsed row. */
function measure(name: string, schema: z.ZodType, row: unknown, n = 100_000) {
  for (let i = 0; i < 10_000; i++) schema.parse(row); // warm-up (zod compiles the object parser)
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) schema.parse(row);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  console.log(`${name.padEnd(34)} ${best.toFixed(0).padStart(6)} ns/row`);
}

measure('claims row (login, refresh)', claimsRow, claims);
measure('bumped row (id, tva)', bumpedRow, { id: claims.id, tva: 1796069876.5 });
measure('export mood row', mood, moodRow);
measure('row with a timestamp -> Date', withDate, dated);
