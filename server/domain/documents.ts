// Streamed documents (export.mine, reports.*): rows read page by page with keyset
// pagination (each page is one short statement; no connection is held while a slow client
// downloads), written out as JSON or CSV text chunks. The procedures that use these return
// async generators of strings: served raw by the download routes (server/http/downloads.ts)
// or as a stream of chunks to @trpc/client's httpBatchStreamLink.
import { type SQL, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';

/** Rows per statement when streaming. */
export const PAGE_ROWS = 500;

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

/**
 * Every row of the query, one page (PAGE_ROWS rows, one statement) at a time; a page
 * shorter than PAGE_ROWS ends it, so n rows take floor(n / PAGE_ROWS) + 1 statements.
 */
export async function* pagedRows<Row>(db: Executor, q: PagedQuery<Row>, pageRows = PAGE_ROWS) {
  const order = sql.join(q.keys, sql`, `);
  let after: SQL | undefined;
  for (;;) {
    const keyset = after ? sql` AND (${order}) > ${after}` : sql``;
    const rows: Row[] = await queryRows(
      db,
      q.row,
      sql`${q.select}${keyset} ORDER BY ${order} LIMIT ${pageRows}`,
    );
    if (rows.length > 0) yield rows;
    if (rows.length < pageRows) return;
    after = q.keyOf(rows[rows.length - 1]!);
  }
}

/** `"name":[…]` with the rows of every page, a comma-separated JSON array. */
export async function* jsonArray<Row>(
  name: string,
  pages: AsyncIterable<Row[]>,
  toJson: (row: Row) => unknown,
): AsyncGenerator<string> {
  yield `${JSON.stringify(name)}:[`;
  let first = true;
  for await (const rows of pages) {
    yield (first ? '' : ',') + rows.map((r) => JSON.stringify(toJson(r))).join(',');
    first = false;
  }
  yield ']';
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text a
 * person wrote that starts like a spreadsheet formula (= + - @, tab, CR) gets a leading
 * apostrophe, so opening the file cannot run it.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = Array.isArray(value) ? value.join(';') : String(value);
  if (typeof value !== 'number' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: unknown[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** Rows as CSV: the header line, then one chunk per page. */
export async function* csvRows<Row>(
  header: string[],
  pages: AsyncIterable<Row[]>,
  toFields: (row: Row) => unknown[],
): AsyncGenerator<string> {
  yield csvLine(header);
  for await (const rows of pages) yield rows.map((r) => csvLine(toFields(r))).join('');
}
