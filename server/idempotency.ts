// Idempotency-Key on mutations (tRPC and REST; docs/api.md "Retrying a mutation"), as Stripe's
// API has it: a signed-in caller's mutation sent with an `Idempotency-Key` header runs in one
// transaction that also stores its result under (caller, key, procedure); a retry with the
// same key and the same input gets that result back (header `Idempotent-Replayed: true`)
// without running again; the same key with another input is refused (400); a key lives
// IDEMPOTENCY_KEY_TTL_HOURS. Two requests with one key at once: the second waits for the
// first's transaction (the key's row lock), then replays its result. A call that fails
// stores nothing (its transaction rolls back with its writes): a retry runs it again.
// So a client that lost the answer (a connection cut after the COMMIT, a 503 at the call
// deadline while the write committed later) retries safely.
//
// The one integration point is `idempotent(...)` around a mutation's resolver in the call
// path (server/trpc/init.ts, `observed`); the key comes from the request's context
// (RequestInfo.idempotencyKey). Anonymous calls (login, registration) ignore the header:
// there is no caller to scope a key to.
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import superjson from 'superjson';
import { z } from 'zod';
import { queryRows, withAmbientTransaction } from '../db/client.ts';
import { badRequest } from './domain/errors.ts';
import type { Context } from './trpc/context.ts';

/** How long a key is remembered. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;
/** What a key may be: 1-255 visible ASCII characters (a UUID, as clients usually send). */
const KEY = /^[\x21-\x7e]{1,255}$/;
export const REPLAYED_HEADER = 'idempotent-replayed';

/** A resolver's outcome as the call path sees it (tRPC's middleware result). */
type Outcome = { ok: true; data?: unknown } | { ok: false };

/** A failed call: its transaction must roll back, and the call answer as it failed. */
class Failed<R> {
  readonly result: R;
  constructor(result: R) {
    this.result = result;
  }
}

const storedRow = z.object({ request_hash: z.string(), response: z.string().nullable() });

/**
 * Runs `call` (a mutation's resolver) under the request's Idempotency-Key, if it has one
 * and a signed-in caller; otherwise just runs it.
 */
export async function idempotent<R extends Outcome>(
  ctx: Context,
  procedure: string,
  getRawInput: () => Promise<unknown>,
  call: () => Promise<R>,
): Promise<R> {
  const key = ctx.req.idempotencyKey;
  if (key === undefined || !ctx.auth) return call();
  if (!KEY.test(key)) throw badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters');
  const userId = ctx.auth.sub;
  const requestHash = createHash('sha256')
    .update(JSON.stringify((await getRawInput()) ?? null))
    .digest('hex');
  const where = sql`user_id = ${userId} AND key = ${key} AND procedure = ${procedure}`;
  try {
    return await ctx.deps.db.transaction(async (tx) => {
      // An expired key is a new one.
      await tx.execute(sql`DELETE FROM idempotency_keys WHERE ${where} AND expires_at <= now()`);
      // Waits for a concurrent holder of the same key to finish (the primary key's lock).
      const claimed = await queryRows(
        tx,
        z.object({ claimed: z.boolean() }),
        sql`INSERT INTO idempotency_keys (user_id, key, procedure, request_hash, expires_at)
            VALUES (${userId}, ${key}, ${procedure}, ${requestHash},
                    now() + make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS}))
            ON CONFLICT DO NOTHING RETURNING true AS claimed`,
      );
      if (claimed.length === 0) {
        const [row] = await queryRows(
          tx,
          storedRow,
          sql`SELECT request_hash, response FROM idempotency_keys WHERE ${where}`,
        );
        if (!row || row.response === null)
          throw badRequest('Idempotency-Key is in use by a request still running; retry shortly');
        if (row.request_hash !== requestHash)
          throw badRequest('Idempotency-Key was already used with another input for this procedure');
        ctx.resHeaders.set(REPLAYED_HEADER, 'true');
        return { ok: true, data: superjson.parse(row.response), marker: 'middlewareMarker' } as unknown as R;
      }
      const result = await withAmbientTransaction(tx, call);
      if (!result.ok) throw new Failed(result);
      await tx.execute(
        sql`UPDATE idempotency_keys SET response = ${superjson.stringify(result.data)} WHERE ${where}`,
      );
      return result;
    });
  } catch (err) {
    if (err instanceof Failed) return err.result as R;
    throw err;
  }
}

/** Deletes expired keys (the idempotency-cleanup job); returns how many. */
export const DELETE_EXPIRED_KEYS = sql`WITH d AS (DELETE FROM idempotency_keys WHERE expires_at <= now() RETURNING 1)
  SELECT count(*)::int AS n FROM d`;
