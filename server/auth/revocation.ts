// Instant revocation of access tokens with zero database queries per request.
// Two kinds of entries, both kept in process memory and checked on every request:
//   user → tokens_valid_after (epoch seconds): tokens with iat before it are dead
//          (logout-all, password change, suspension, role/plan change, admin revoke,
//          deletion);
//   sid  → revoked session (refresh-token family, or API key) until its last access token
//          expires (logout, refresh-token reuse, API-key revocation).
// The procedure that revokes persists the fact in Postgres (users.tokens_valid_after,
// refresh_tokens.revoked_at) and then announces it: applied here at once and published
// through Redis so every instance learns it within a second. An instance loads the
// facts of the last access-token lifetime from Postgres at start (and again whenever its
// subscriber reconnects, so nothing published during an outage is missed; every 10 s, how
// revocations made in SQL, such as a deleted user, arrive; every 2 s while its subscriber is
// away, the bound on revocations during a Redis outage). Without
// Redis it works in one process. See docs/decisions/revocation.md.
import { type SQL, sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { type Executor, inBackground, queryRows } from '../../db/client.ts';
import { closeRedis, duplicateRedis } from '../redis.ts';
import { type AccessClaims, CLOCK_TOLERANCE_SECONDS } from './tokens.ts';

/**
 * How far ahead of the clock tokens_valid_after may be set (bumpTokensValidAfter), so how
 * far in the future a new token's iat (lifted to it) may lie.
 */
export const TVA_MAX_LEAD_SECONDS = 11;

/**
 * How long a revocation entry must live: until every token it covers has expired and is
 * past the verification leeway too (jose accepts exp + CLOCK_TOLERANCE_SECONDS). A user
 * entry at T covers tokens with iat < T, so exp < T + TTL; a session entry is set at
 * revocation time R and covers tokens issued up to R, whose iat may be lifted up to
 * TVA_MAX_LEAD_SECONDS ahead. One bound serves both, plus a second of margin.
 */
export function revocationRetentionSeconds(accessTtlSeconds: number): number {
  return accessTtlSeconds + CLOCK_TOLERANCE_SECONDS + TVA_MAX_LEAD_SECONDS + 1;
}

export interface RevocationEvent {
  kind: 'user' | 'session';
  /** user id or session (family) id */
  id: string;
  /** user: tokens_valid_after; session: revoked until (epoch seconds) */
  at: number;
}

const eventSchema = z.strictObject({
  kind: z.enum(['user', 'session']),
  id: z.uuid(),
  at: z.number().int().nonnegative(),
});
const messageSchema = z.array(eventSchema).min(1).max(1000);

export class RevocationList {
  private readonly users = new Map<string, number>();
  private readonly sessions = new Map<string, number>();
  private publisher: ((events: RevocationEvent[]) => Promise<void>) | undefined;

  /** onApply observes every event applied here (its own and peers'), e.g. to count them. */
  private readonly onApply: ((event: RevocationEvent) => void) | undefined;
  constructor(onApply?: (event: RevocationEvent) => void) {
    this.onApply = onApply;
  }

  /** True when the token was revoked after it was issued. */
  isRevoked(claims: Pick<AccessClaims, 'sub' | 'sid' | 'iat'>): boolean {
    const validAfter = this.users.get(claims.sub);
    if (validAfter !== undefined && claims.iat < validAfter) return true;
    return this.sessions.has(claims.sid);
  }

  /** Listeners told of every event applied (e.g. to end the subscriptions it revokes). */
  private readonly listeners = new Set<(event: RevocationEvent) => void>();
  /** Calls listener with every event applied from now on; returns the unsubscribe. */
  listen(listener: (event: RevocationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply(event: RevocationEvent): void {
    this.onApply?.(event);
    for (const l of this.listeners) l(event);
    const map = event.kind === 'user' ? this.users : this.sessions;
    const prev = map.get(event.id);
    if (prev === undefined || event.at > prev) map.set(event.id, event.at);
  }

  /**
   * Applies events here and publishes them to the other instances. Call it after the
   * revocation is committed to Postgres. A failed publish is logged by the publisher,
   * never thrown: the fact is persisted and peers reload it when their subscriber
   * reconnects.
   */
  async announce(...events: RevocationEvent[]): Promise<void> {
    for (const e of events) this.apply(e);
    await this.publisher?.(events);
  }

  /** Set by startRevocationSync when Redis is configured. */
  setPublisher(publisher: ((events: RevocationEvent[]) => Promise<void>) | undefined): void {
    this.publisher = publisher;
  }

  /**
   * Forget entries that can no longer matter: every token they could kill has expired,
   * leeway included (revocationRetentionSeconds). A session entry's `at` already is the
   * end of its retention.
   */
  prune(nowSeconds: number, accessTtlSeconds: number): void {
    const retention = revocationRetentionSeconds(accessTtlSeconds);
    for (const [id, at] of this.users) if (at + retention < nowSeconds) this.users.delete(id);
    for (const [id, until] of this.sessions) if (until < nowSeconds) this.sessions.delete(id);
  }

  get size(): number {
    return this.users.size + this.sessions.size;
  }
}

/**
 * `tokens_valid_after = <this>` means "every token issued up to now is dead": the next
 * whole second by the later of the database's clock and this process's (iat comes from
 * the process, so a process clock ahead of the database must not let a token survive),
 * and later than any previous bump.
 */
export function bumpTokensValidAfter(): SQL {
  const processNext = Math.floor(Date.now() / 1000) + 1;
  // Strictly later than the previous bump: a token issued right after a bump carries
  // iat = that bump, so a second change within the same second must still kill it. Capped
  // at 10 s ahead so a burst of changes cannot push new tokens' iat far into the future
  // (TVA_MAX_LEAD_SECONDS = that cap + the next second).
  const next = sql`greatest(date_trunc('second', clock_timestamp()) + interval '1 second', to_timestamp(${processNext}))`;
  return sql`least(greatest(tokens_valid_after + interval '1 second', ${next}), ${next} + make_interval(secs => ${TVA_MAX_LEAD_SECONDS - 1}))`;
}

/**
 * `UPDATE users` that bumps tokens_valid_after for the ids `userIds` yields, returning
 * (id, tva epoch seconds): a CTE body for statements that change claims of several users.
 */
export function bumpTokensOf(userIds: SQL): SQL {
  return sql`UPDATE users SET tokens_valid_after = ${bumpTokensValidAfter()}, updated_at = now()
             WHERE id IN (${userIds})
             RETURNING id, extract(epoch FROM tokens_valid_after)::float8 AS tva`;
}

/** A row of (user id, tva epoch seconds), as bumpTokensOf returns them. */
export const bumpedRow = z.object({ id: z.string(), tva: z.number() });

export function userRevocation(userId: string, tokensValidAfter: number): RevocationEvent {
  return { kind: 'user', id: userId, at: Math.ceil(tokensValidAfter) };
}

/**
 * A revoked session: its access tokens die, and the entry can go once every one of them
 * has expired, verification leeway included (revocationRetentionSeconds).
 */
export function sessionRevocation(familyId: string, accessTtlSeconds: number): RevocationEvent {
  return {
    kind: 'session',
    id: familyId,
    at: Math.ceil(Date.now() / 1000) + revocationRetentionSeconds(accessTtlSeconds),
  };
}

const revocationRow = z.object({ id: z.string(), at: z.number() });

/**
 * Loads what can still matter from Postgres: users whose tokens_valid_after moved within
 * the retention (revocationRetentionSeconds: the access-token lifetime, the verification
 * leeway and a margin; a soft-deleted user's moves too), users deleted within it (their
 * audit entry; migrations/0004_user_deletion_revokes.sql), and families revoked within it.
 * Two queries.
 */
export async function loadRevocations(
  db: Executor,
  list: RevocationList,
  accessTtlSeconds: number,
): Promise<number> {
  const retention = revocationRetentionSeconds(accessTtlSeconds);
  const users = await queryRows(
    db,
    revocationRow,
    sql`SELECT id, extract(epoch FROM tokens_valid_after)::float8 AS at FROM users
        WHERE tokens_valid_after > now() - make_interval(secs => ${retention})
        UNION ALL
        SELECT target_id, extract(epoch FROM at + interval '1 minute')::float8 FROM audit_log
        WHERE action = 'user.deleted' AND at > now() - make_interval(secs => ${retention})`,
  );
  const families = await queryRows(
    db,
    revocationRow,
    sql`SELECT family_id AS id, extract(epoch FROM max(revoked_at))::float8 AS at FROM refresh_tokens
        WHERE revoked_at > now() - make_interval(secs => ${retention})
        GROUP BY family_id
        UNION ALL
        SELECT id, extract(epoch FROM revoked_at)::float8 FROM api_keys
        WHERE revoked_at > now() - make_interval(secs => ${retention})`,
  );
  for (const u of users) list.apply(userRevocation(u.id, u.at));
  for (const f of families) list.apply({ kind: 'session', id: f.id, at: Math.ceil(f.at) + retention });
  return users.length + families.length;
}

export interface RevocationSyncOptions {
  list: RevocationList;
  db: Executor;
  accessTtlSeconds: number;
  log: Logger;
  /** Shared Redis; undefined → this process only. */
  redis: Redis | undefined;
  /** Pub/sub channel; namespace it by deployment (tokens of another issuer never verify here). */
  channel: string;
  /** How often expired entries are dropped. */
  pruneIntervalMs?: number;
  /**
   * How often the state is reloaded from Postgres anyway: how revocations made in SQL
   * (a deleted user) arrive, and with Redis a backstop for a message lost while the
   * subscriber stayed connected (e.g. a publish that timed out, or made by a host cut off
   * from Redis). Default RESYNC_INTERVAL_MS.
   */
  resyncIntervalMs?: number;
  /** How often while the subscriber is not connected (Redis away). Default OUTAGE_RESYNC_INTERVAL_MS. */
  outageResyncIntervalMs?: number;
}

/** The database resync: two indexed queries (loadRevocations), the bound on a revocation whose publish was lost. */
export const RESYNC_INTERVAL_MS = 10_000;
/** While this process's subscriber is away (a Redis outage): the bound on revocations meanwhile. */
export const OUTAGE_RESYNC_INTERVAL_MS = 2000;

/**
 * Loads the revocation state, subscribes to the channel (a dedicated connection: a
 * subscribed ioredis connection cannot run other commands), and starts the pruning
 * timer. Returns stop(), to run at shutdown before Redis is closed.
 */
export async function startRevocationSync(opts: RevocationSyncOptions): Promise<() => Promise<void>> {
  const { list, db, accessTtlSeconds, log, redis, channel } = opts;
  const loaded = await loadRevocations(db, list, accessTtlSeconds);
  log.debug({ loaded }, 'revocation state loaded');

  const timer = setInterval(
    () => list.prune(Date.now() / 1000, accessTtlSeconds),
    opts.pruneIntervalMs ?? 60_000,
  );
  timer.unref();
  // Also without Redis: revocations made in SQL (a deleted user) reach this process here.
  const reload = () =>
    void inBackground(() => loadRevocations(db, list, accessTtlSeconds)).catch((err) =>
      log.warn({ err }, 'could not reload revocations from Postgres'),
    );
  const resync = setInterval(reload, opts.resyncIntervalMs ?? RESYNC_INTERVAL_MS);
  resync.unref();
  if (!redis)
    return async () => {
      clearInterval(timer);
      clearInterval(resync);
    };

  // The subscription is made again on every reconnect, here and not by ioredis: its own
  // resubscribe is lost for good when the connection drops again before Redis confirms it,
  // or when that SUBSCRIBE fails (a flapping failover), and the connection then stays up
  // without a subscription, deaf until the next resync. A failed SUBSCRIBE here reconnects.
  const subscriber = duplicateRedis(redis, log, { autoResubscribe: false });
  subscriber.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    let events: RevocationEvent[];
    try {
      events = messageSchema.parse(JSON.parse(message));
    } catch {
      log.warn({ channel }, 'ignored a malformed revocation message');
      return;
    }
    for (const e of events) list.apply(e);
  });
  let subscribedOnce = false; // the first subscription is made below, at start
  subscriber.on('ready', () => {
    if (!subscribedOnce) return;
    subscriber.subscribe(channel).then(
      // Subscribed again: catch up on whatever was published while we were away.
      () =>
        loadRevocations(db, list, accessTtlSeconds).catch((err) =>
          log.warn({ err }, 'could not reload revocations after a Redis reconnect'),
        ),
      (err) => {
        // Refused on a live connection: reconnect to try again. A dropped connection
        // subscribes again at its next 'ready' anyway.
        log.warn({ err }, 'could not subscribe to revocations after a Redis reconnect');
        if (subscriber.status === 'ready') subscriber.disconnect(true);
      },
    );
  });
  await subscriber.connect();
  await subscriber.subscribe(channel);
  subscribedOnce = true;
  // While the subscriber is away (Redis down, or this host cut off from it) no message
  // arrives: reload from Postgres more often, so a revocation made meanwhile on another
  // host (stored in Postgres, its publish failed) is refused here within this interval.
  const outageResync = setInterval(() => {
    if (subscriber.status !== 'ready') reload();
  }, opts.outageResyncIntervalMs ?? OUTAGE_RESYNC_INTERVAL_MS);
  outageResync.unref();

  list.setPublisher(async (events) => {
    try {
      await redis.publish(channel, JSON.stringify(events));
    } catch (err) {
      log.error({ err }, 'could not publish a revocation; other instances learn it at their next resync');
    }
  });
  return async () => {
    clearInterval(timer);
    clearInterval(resync);
    clearInterval(outageResync);
    list.setPublisher(undefined);
    await closeRedis(subscriber);
  };
}
