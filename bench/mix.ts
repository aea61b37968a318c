// The capacity plan's Scenario 2 as a mixed workload: a weighted mix of real procedures
// (issue 19's weights per 100 requests) against the bulk-seeded users, each request sent
// as the right kind of caller — a patient (with or without the booking feature), a
// therapist or an admin — with fresh bodies where a request must differ (a booking's slot,
// a refresh token used once). bench/run.ts prepares it; bench/load.ts sends it.
import { randomBytes, randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { hashRefreshToken } from '../server/auth/refresh.ts';

export type Caller = 'patient' | 'booker' | 'therapist' | 'admin' | 'anon';

export interface MixEntry {
  procedure: string;
  weight: number;
  as: Caller;
  method: 'GET' | 'POST';
  /** The tRPC input (plain JSON; `startsAt` of a booking is made per request). */
  input?: unknown;
  kind?: 'book' | 'refresh';
}

/** Weights per 100 requests (issue 19 / the capacity plan's peak scenario). */
export const MIX: MixEntry[] = [
  { procedure: 'auth.me', weight: 20, as: 'patient', method: 'GET' },
  { procedure: 'mood.list', weight: 15, as: 'patient', method: 'GET', input: { limit: 20 } },
  { procedure: 'mood.log', weight: 10, as: 'patient', method: 'POST', input: { score: 6, tags: ['work'] } },
  { procedure: 'assessments.history', weight: 8, as: 'patient', method: 'GET', input: { limit: 10 } },
  {
    procedure: 'assessments.submit',
    weight: 4,
    as: 'patient',
    method: 'POST',
    input: { instrument: 'GAD7', answers: [1, 0, 1, 0, 1, 0, 1] },
  },
  { procedure: 'therapists.list', weight: 10, as: 'patient', method: 'GET', input: { limit: 20 } },
  { procedure: 'therapy.mine', weight: 8, as: 'patient', method: 'GET', input: { limit: 20 } },
  { procedure: 'subscriptions.plans', weight: 10, as: 'anon', method: 'GET' },
  { procedure: 'users.profile', weight: 8, as: 'patient', method: 'GET' },
  { procedure: 'therapy.book', weight: 2, as: 'booker', method: 'POST', kind: 'book' },
  { procedure: 'auth.refresh', weight: 2, as: 'anon', method: 'POST', kind: 'refresh' },
  { procedure: 'admin.users.list', weight: 1, as: 'admin', method: 'GET', input: { limit: 20 } },
  { procedure: 'crisis.list', weight: 1, as: 'admin', method: 'GET', input: { limit: 20 } },
  { procedure: 'analytics.overview', weight: 1, as: 'admin', method: 'GET' },
];

/** What the load generator needs: access tokens per caller, therapists to book, refresh tokens. */
export interface MixData {
  tokens: Record<Exclude<Caller, 'anon'>, string[]>;
  therapistIds: string[];
  refreshTokens: string[];
}

/**
 * Bench therapists get a profile (accepting patients) and one admin account exists, so
 * every procedure of the mix has its data; `refreshTokens` single-use refresh tokens are
 * inserted for sampled patients (bench users cannot log in to get them).
 */
export async function prepareMixData(
  url: string,
  patientIds: string[],
  refreshTokens: number,
): Promise<{ therapistIds: string[]; adminId: string; refreshTokens: string[] }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // Earlier runs' bookings would fill the patients' cap on upcoming sessions.
    await sql`UPDATE therapy_sessions SET status = 'cancelled', cancelled_at = now() WHERE status = 'booked'`;
    await sql`
      INSERT INTO therapist_profiles (user_id, specializations, languages, fee_paise)
      SELECT u.id, '{anxiety,depression}', '{en,hi}', 150000
      FROM users u JOIN roles r ON r.id = u.role_id
      WHERE r.name = 'therapist' AND u.email LIKE 'bench%@bench.example'
      ON CONFLICT DO NOTHING`;
    await sql`
      INSERT INTO users (email, name, password_hash, role_id)
      SELECT 'bench-admin@bench.example', 'Bench Admin', 'bench-no-login', id FROM roles WHERE name = 'admin'
      ON CONFLICT DO NOTHING`;
    const [admin] = await sql`SELECT id FROM users WHERE email = 'bench-admin@bench.example'`;
    const therapists = await sql`
      SELECT u.id FROM users u JOIN roles r ON r.id = u.role_id
      WHERE r.name = 'therapist' AND u.email LIKE 'bench%@bench.example' ORDER BY random() LIMIT 500`;
    const tokens: string[] = [];
    const rows: Array<{ user_id: string; token_hash: string; family_id: string }> = [];
    for (let i = 0; i < refreshTokens && patientIds.length > 0; i++) {
      const token = randomBytes(32).toString('base64url');
      tokens.push(token);
      rows.push({
        user_id: patientIds[i % patientIds.length]!,
        token_hash: hashRefreshToken(token),
        family_id: randomUUID(),
      });
    }
    for (let i = 0; i < rows.length; i += 1000) {
      const slice = rows.slice(i, i + 1000);
      await sql`
        INSERT INTO refresh_tokens (user_id, token_hash, family_id, expires_at)
        SELECT x.user_id::uuid, x.token_hash, x.family_id::uuid, now() + interval '1 day'
        FROM jsonb_to_recordset(${sql.json(slice)}) AS x(user_id text, token_hash text, family_id text)`;
    }
    return {
      therapistIds: therapists.map((t) => String(t.id)),
      adminId: String(admin!.id),
      refreshTokens: tokens,
    };
  } finally {
    await sql.end();
  }
}

/** A whole UTC hour between 1 hour and ~179 days ahead: a bookable slot, rarely taken twice. */
export function randomSlot(): Date {
  const hour = 3_600_000;
  const next = Math.ceil(Date.now() / hour) * hour;
  return new Date(next + Math.floor(Math.random() * 24 * 178) * hour + hour);
}

/** The tRPC HTTP request of one mix entry (superjson wire format, as @trpc/client sends it). */
export function mixRequest(
  e: MixEntry,
  data: MixData,
  pick: <T>(list: T[]) => T,
): { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string } | undefined {
  const headers: Record<string, string> = {};
  if (e.as !== 'anon') headers.authorization = `Bearer ${pick(data.tokens[e.as])}`;
  let wire: unknown;
  if (e.kind === 'book') {
    wire = {
      json: { therapistId: pick(data.therapistIds), startsAt: randomSlot().toISOString() },
      meta: { values: { startsAt: ['Date'] } },
    };
  } else if (e.kind === 'refresh') {
    const token = data.refreshTokens.pop();
    if (!token) return undefined; // used up: the caller sends another entry
    wire = { json: { refreshToken: token } };
  } else if (e.input !== undefined) wire = { json: e.input };
  const path = `/trpc/${e.procedure}`;
  if (e.method === 'GET')
    return {
      method: 'GET',
      path: wire === undefined ? path : `${path}?input=${encodeURIComponent(JSON.stringify(wire))}`,
      headers,
    };
  headers['content-type'] = 'application/json';
  return { method: 'POST', path, headers, body: JSON.stringify(wire ?? { json: null }) };
}
