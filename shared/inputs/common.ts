// Building blocks of the shared input schemas: pagination, ids, bounded text.
import { z } from 'zod';

/** A lone surrogate (a pair is one code point under the u flag, not matched). */
const LONE_SURROGATE = /\p{Cs}/u;
/**
 * A string of well-formed Unicode: a lone surrogate (JSON's "\ud800") is refused here, with
 * the field's name, instead of reaching PostgreSQL (which refuses it in text and json: a 500).
 * Every free-text input is built on it. (A refinement, not a pattern: the OpenAPI document
 * keeps its plain string types.)
 */
export const text = () =>
  z.string().refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode text (it holds a lone surrogate)');

/** An opaque keyset cursor, as returned in `nextCursor`. */
export const cursorInput = text().min(1).max(512);
/** Page size: default 20, at most 100. */
export const limitInput = z.number().int().min(1).max(100).default(20);
export const idInput = z.uuid();
/** A short label (a tag, a specialization, a language): trimmed, lower-cased, 1–40 characters. */
export const labelInput = text().trim().toLowerCase().min(1).max(40);
/** A list of labels: at most 20, duplicates dropped. */
export const labelListInput = z
  .array(labelInput)
  .max(20)
  .transform((v) => [...new Set(v)]);

/** Free text a person writes (mood note, session note): 1–5,000 characters. */
export const noteInput = text().min(1).max(5000);

export const paginationInput = { cursor: cursorInput.optional(), limit: limitInput };

/**
 * The dates the API takes (a range bound, a report period): 1900-01-01 up to, not including,
 * 2200-01-01 UTC. JavaScript's Date reaches ±275,760 years, year 0 and negative years, which
 * Postgres cannot take as a timestamp; nothing this service stores is dated outside the range.
 * A Date over /trpc (superjson), an ISO 8601 date-time string over REST (/api).
 */
export const EARLIEST_DATE = new Date('1900-01-01T00:00:00.000Z');
export const DATE_LIMIT = new Date('2200-01-01T00:00:00.000Z');
export const dateInput = () =>
  z
    .date()
    .min(EARLIEST_DATE, 'must be on or after 1900-01-01')
    .max(new Date(DATE_LIMIT.getTime() - 1), 'must be before 2200-01-01')
    .meta({ format: 'date-time' });

/** Refines an object with optional `from`/`to` dates so that from ≤ to. */
export function orderedRange(v: { from?: Date | undefined; to?: Date | undefined }): boolean {
  return !v.from || !v.to || v.from.getTime() <= v.to.getTime();
}
export const rangeMessage = { message: '`from` must not be after `to`', path: ['from'] };
