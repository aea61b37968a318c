// Building blocks of the output schemas (shared/contract.ts says how outputs travel).
import { z } from 'zod';

/** A point in time: a Date over /trpc, an ISO 8601 string over REST. */
export const date = z.date().meta({ format: 'date-time' });

/** A keyset page: the items, and the cursor of the next page (null: the last). */
export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

/** A change that answers nothing but that it was made. */
export const okOutput = z.object({ ok: z.literal(true) });

/**
 * A download's answer: the document's text in chunks, as the use case writes them (an async
 * generator of strings). GET /export and GET /reports/* stream them as a file; over /trpc,
 * httpBatchStreamLink hands them to the caller as they come. Checked as what it is, an async
 * iterable; the OpenAPI document describes the file (server/http/openapi.ts).
 */
export const downloadOutput = z.custom<AsyncGenerator<string>>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function',
  'must be a stream of chunks',
);
