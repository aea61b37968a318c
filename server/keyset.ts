// Keyset pagination: a page ends with an opaque cursor naming the last row's sort key, and
// the next page starts strictly after it, so pages stay fast and stable at any depth
// (no OFFSET). The cursor is base64url JSON of the key values; a client treats it as opaque.

import { type Placeholder, type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { DATE_LIMIT, EARLIEST_DATE } from '../shared/inputs/common.ts';
import { badRequest } from './domain/errors.ts';

export type CursorKey = Array<string | number>;

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
/**
 * `2024-99-99T99:99:99.000000Z` has the shape but names no instant, and Postgres refuses it
 * with an error: the date and time must read back unchanged from the instant they name, in
 * the years the API takes at all (shared/inputs/common.ts dateInput; Postgres has no year 0).
 */
function isRealInstant(v: string): boolean {
  const year = Number(v.slice(0, 4));
  if (year < EARLIEST_DATE.getUTCFullYear() || year >= DATE_LIMIT.getUTCFullYear()) return false;
  const ms = Date.parse(`${v.slice(0, 23)}Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19) === v.slice(0, 19);
}

/** What each part of a cursor must be; checked before any of it reaches SQL. */
const KINDS = {
  uuid: (v: unknown) =>
    typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  /** An exact timestamp made by exactTimestamp(): a real instant, not just its shape. */
  timestamp: (v: unknown) => typeof v === 'string' && TIMESTAMP.test(v) && isRealInstant(v),
  /** Up to an email's length (254). */
  text: (v: unknown) => typeof v === 'string' && v.length <= 254,
  integer: (v: unknown) => Number.isSafeInteger(v),
} as const;
export type CursorKind = keyof typeof KINDS;
type KindValue<K extends CursorKind> = K extends 'integer' ? number : string;

/**
 * A timestamp column as text with all six fractional digits. Postgres keeps microseconds
 * and a JS Date only milliseconds, so a cursor built from a Date would skip rows.
 */
export function exactTimestamp(column: AnyPgColumn | SQL): SQL<string> {
  return sql<string>`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Decodes a cursor made by encodeCursor; any other string is the client's mistake: BAD_REQUEST. */
export function decodeCursor<const K extends readonly CursorKind[]>(
  cursor: string | undefined,
  kinds: K,
): { [I in keyof K]: KindValue<K[I]> } | undefined {
  if (cursor === undefined) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const ok = Array.isArray(key) && key.length === kinds.length && key.every((v, i) => KINDS[kinds[i]!](v));
  if (!ok) throw badRequest('invalid cursor');
  return key as { [I in keyof K]: KindValue<K[I]> };
}

/**
 * Turns `limit + 1` fetched rows into a page: the first `limit` items, and a cursor for the
 * next page when there was one more row.
 */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  keyOf: (row: Row) => CursorKey,
  toItem: (row: Row) => Item,
): { items: Item[]; nextCursor: string | null } {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    items: pageRows.map(toItem),
    nextCursor: more && last ? encodeCursor(keyOf(last)) : null,
  };
}

/**
 * The rows strictly after a (timestamp, id) cursor: `<` for newest-first pages, `>` for
 * oldest-first ones. Pair with ORDER BY time, id in the same direction.
 */
export function afterTimeCursor(
  time: AnyPgColumn,
  id: AnyPgColumn,
  after: readonly [string | Placeholder, string | Placeholder],
  order: 'desc' | 'asc' = 'desc',
): SQL {
  const op = order === 'desc' ? sql`<` : sql`>`;
  return sql`(${time}, ${id}) ${op} (${after[0]}::timestamptz, ${after[1]}::uuid)`;
}

/** toPage for rows selected with `key: exactTimestamp(time)` and `id`; the key is not returned. */
export function timePage<Row extends { key: string; id: string }>(rows: Row[], limit: number) {
  return toPage(
    rows,
    limit,
    (r) => [r.key, r.id],
    ({ key: _key, ...item }) => item,
  );
}
