// Streamed documents (export.mine, reports.*): rows read page by page with keyset
// pagination (each page is one short statement; no connection is held while a slow client
// downloads), written out as JSON or CSV text chunks. A page is turned into text as soon as
// it is read, and its rows are dropped before the text is handed on; pages shrink so their
// text stays near PAGE_TEXT_BYTES: a paused download holds about one page of text, and the
// next page is read only when the reader has taken the last (server/limits/downloads.ts). The procedures that use these return
// async generators of strings: served raw by the download routes (server/http/downloads.ts)
// or as a stream of chunks to @trpc/client's httpBatchStreamLink.
import { type SQL, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';

/** Rows per statement when streaming (fewer when rows are large: PAGE_TEXT_BYTES). */
export const PAGE_ROWS = 500;
/**
 * The text a page aims at: after a page, the next one's rows are sized to it (≥ 1 row). The
 * first page (PAGE_ROWS) goes out while the socket buffers are still empty; the pages a
 * paused reader leaves waiting are these.
 */
export const PAGE_TEXT_BYTES = 64 * 1024;

export interface PagedQuery<Row> {
  /** `SELECT … FROM … WHERE <filter>`: no ORDER BY, no LIMIT; the keyset condition is ANDed on. */
  select: SQL;
  /** The schema of one row of `select` (db/client.ts queryRows). */
  row: z.ZodType<Row>;
  /** The ordering columns (ascending), unique together, e.g. [sql`m.created_at`, sql`m.id`]. */
  keys: SQL[];
  /** A row's values of those keys, typed for the comparison, e.g. sql`(${r.at}::timestamptz, ${r.id}::uuid)`. */
  keyOf: (row: Row) => SQL;
}

interface Page {
  text: string;
  /** The keyset position after this page; undefined when it was the last one. */
  after: SQL | undefined;
  rows: number;
}

/** One page (one statement) as text. An async function, so the rows are garbage once it returns. */
async function readPage<Row>(
  db: Executor,
  q: PagedQuery<Row>,
  after: SQL | undefined,
  limit: number,
  format: (rows: Row[]) => string,
): Promise<Page> {
  const order = sql.join(q.keys, sql`, `);
  const keyset = after ? sql` AND (${order}) > ${after}` : sql``;
  const rows: Row[] = await queryRows(db, q.row, sql`${q.select}${keyset} ORDER BY ${order} LIMIT ${limit}`);
  return {
    text: rows.length > 0 ? format(rows) : '',
    after: rows.length < limit ? undefined : q.keyOf(rows[rows.length - 1]!),
    rows: rows.length,
  };
}

/**
 * Every row of the query as text, page by page: `format` turns a page's rows into text (its
 * second argument says whether it is the first page). A page shorter than its LIMIT ends it:
 * n rows take floor(n / PAGE_ROWS) + 1 statements while pages stay under PAGE_TEXT_BYTES,
 * more for large rows (the next LIMIT is sized from the last page's bytes per row).
 */
export async function* pagedText<Row>(
  db: Executor,
  q: PagedQuery<Row>,
  format: (rows: Row[], first: boolean) => string,
  pageRows = PAGE_ROWS,
): AsyncGenerator<string> {
  let after: SQL | undefined;
  let limit = pageRows;
  for (let first = true; ; first = false) {
    const page = await readPage(db, q, after, limit, (rows) => format(rows, first));
    after = page.after;
    const perRow = page.text.length / Math.max(1, page.rows);
    limit = Math.max(1, Math.min(pageRows, Math.floor(PAGE_TEXT_BYTES / Math.max(1, perRow))));
    // Hand the text on without keeping it here while the reader is paused.
    const out = [page.text];
    page.text = '';
    if (out[0]) yield out.pop()!;
    if (!after) return;
  }
}

/** `"name":[…]` with every row of the query, a comma-separated JSON array. */
export async function* jsonArray<Row>(
  db: Executor,
  name: string,
  q: PagedQuery<Row>,
  toJson: (row: Row) => unknown,
): AsyncGenerator<string> {
  yield `${JSON.stringify(name)}:[`;
  yield* pagedText(
    db,
    q,
    (rows, first) => (first ? '' : ',') + rows.map((r) => JSON.stringify(toJson(r))).join(','),
  );
  yield ']';
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text a
 * person wrote that starts like a spreadsheet formula (= + - @, tab, CR) gets a leading
 * apostrophe, so opening the file cannot run it; in a list (tags joined by `;`) each item
 * does, since a spreadsheet may split the cell on `;`.
 */
const formulaSafe = (text: string) => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text);
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = Array.isArray(value)
    ? value.map((v) => formulaSafe(String(v))).join(';')
    : typeof value === 'number'
      ? String(value)
      : formulaSafe(String(value));
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: unknown[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** Rows as CSV: the header line, then one chunk per page. */
export async function* csvRows<Row>(
  db: Executor,
  header: string[],
  q: PagedQuery<Row>,
  toFields: (row: Row) => unknown[],
): AsyncGenerator<string> {
  yield csvLine(header);
  yield* pagedText(db, q, (rows) => rows.map((r) => csvLine(toFields(r))).join(''));
}
