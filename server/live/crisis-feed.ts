// The live crisis queue behind crisis.onChange (docs/decisions/crisis-live-queue.md).
//
// The source of truth is the event log, crisis_events: a trigger on crisis_alerts writes one
// row per raise, acknowledgement and escalation in the same transaction, with ids in commit
// order (migrations/0027_crisis_oncall.sql). Each instance reads the log forward from the
// last id it has seen (one query per instance per change, never one per subscriber) and
// hands each event to its own subscribers. What makes it read:
//   - nudge(), called by the instance that just committed a crisis change;
//   - a message on the Redis channel `<issuer>:crisis`, which nudge() publishes, so the
//     other instances read within milliseconds;
//   - a poll every CRISIS_FEED_POLL_MS, the backstop for a lost message (and how changes made
//     by SQL or another instance without Redis arrive).
// A subscriber that reconnects with the last event id it saw reads the log after it, then
// continues live, without losing or repeating an event (ids dedupe the overlap).
// A subscription is authorised when it starts (protectedProcedure), and ends with
// UNAUTHORIZED when its token expires or is revoked (the revocation list tells us at once);
// there are caps per user and per process.

import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { type Executor, inBackground, queryRows } from '../../db/client.ts';
import { date } from '../../db/row.ts';
import type { CrisisEvent } from '../../shared/contracts/crisis/index.ts';
import type { RevocationEvent, RevocationList } from '../auth/revocation.ts';
import type { AccessClaims } from '../auth/tokens.ts';
import { DomainError, EXPIRED_TOKEN_MESSAGE, unauthorized, unavailable } from '../domain/errors.ts';
import { closeRedis, duplicateRedis } from '../redis.ts';

/** How often each instance reads the log anyway (a lost Redis message is late by at most this). */
export const CRISIS_FEED_POLL_MS = 5000;
/** Events read per query; a resume further behind than RESUME_LIMIT gets a 'resync' event. */
const PAGE = 500;
export const RESUME_LIMIT = 1000;

const eventRow = z.object({
  id: z.coerce.number(),
  kind: z.enum(['raised', 'acknowledged', 'escalated']),
  alert_id: z.string(),
  patient_id: z.string(),
  level: z.number(),
  at: date,
  actor_id: z.string().nullable(),
  actor_name: z.string().nullable(),
});

function readEvents(db: Executor, after: number, limit: number) {
  return queryRows(
    db,
    eventRow,
    sql`SELECT e.id, e.kind, e.alert_id, ca.user_id AS patient_id, e.level, e.at,
               e.actor_id, u.name AS actor_name
        FROM crisis_events e
        JOIN crisis_alerts ca ON ca.id = e.alert_id
        LEFT JOIN users u ON u.id = e.actor_id
        WHERE e.id > ${after}
        ORDER BY e.id
        LIMIT ${limit}`,
  );
}

function toEvent(r: z.infer<typeof eventRow>): CrisisEvent {
  return {
    id: String(r.id),
    kind: r.kind,
    alertId: r.alert_id,
    patientId: r.patient_id,
    level: r.level,
    at: r.at,
    actor: r.actor_id ? { id: r.actor_id, name: r.actor_name ?? '' } : null,
  };
}

/** What a subscriber is told when it must reload the queue instead (it was too far behind). */
function resyncEvent(id: number): CrisisEvent {
  return {
    id: String(id),
    kind: 'resync',
    alertId: null,
    patientId: null,
    level: 0,
    at: new Date(),
    actor: null,
  };
}

/** One open subscription: a small queue and the waiter of its stream. */
class Subscriber {
  queue: CrisisEvent[] = [];
  wake: (() => void) | undefined;
  ended: DomainError | 'closed' | undefined;
  timer: NodeJS.Timeout | undefined;
  readonly claims: Pick<AccessClaims, 'sub' | 'sid' | 'iat' | 'exp'>;
  constructor(claims: Pick<AccessClaims, 'sub' | 'sid' | 'iat' | 'exp'>) {
    this.claims = claims;
  }
  push(event: CrisisEvent) {
    this.queue.push(event);
    const w = this.wake;
    if (w) {
      this.wake = undefined;
      w();
    }
  }
  end(reason: DomainError | 'closed') {
    this.ended ??= reason;
    const w = this.wake;
    if (w) {
      this.wake = undefined;
      w();
    }
  }
}

export interface CrisisFeedOptions {
  db: Executor;
  log: Logger;
  /** Shared Redis; undefined → this process only. */
  redis: Redis | undefined;
  /** Pub/sub channel, namespaced by deployment like the revocation channel. */
  channel: string;
  revocations: RevocationList;
  maxPerUser: number;
  maxPerProcess: number;
  pollIntervalMs?: number;
  /** Observes each event as this instance delivers it (metrics: delivery delay). */
  onDeliver?: (event: CrisisEvent, subscribers: number) => void;
}

export class CrisisFeed {
  private readonly opts: CrisisFeedOptions;
  private readonly subscribers = new Set<Subscriber>();
  private readonly byUser = new Map<string, Set<Subscriber>>();
  private readonly bySession = new Map<string, Set<Subscriber>>();
  /** The last event id this instance has read and delivered. */
  private head = 0;
  private pulling: Promise<void> | undefined;
  private again = false;
  private stopFns: Array<() => Promise<void> | void> = [];
  private publish: (() => void) | undefined;

  constructor(opts: CrisisFeedOptions) {
    this.opts = opts;
  }

  /** Open subscriptions on this process. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Reads where the log ends, subscribes to the channel, starts the poll. */
  async start(): Promise<void> {
    const { db, log, redis, channel } = this.opts;
    const [row] = await queryRows(
      db,
      z.object({ id: z.coerce.number() }),
      sql`SELECT coalesce(max(id), 0) AS id FROM crisis_events`,
    );
    this.head = row?.id ?? 0;
    const poll = setInterval(
      () => inBackground(() => this.pull()),
      this.opts.pollIntervalMs ?? CRISIS_FEED_POLL_MS,
    );
    poll.unref();
    this.stopFns.push(() => clearInterval(poll));
    this.stopFns.push(this.opts.revocations.listen((e) => this.revoked(e)));
    if (!redis) return;
    // A dedicated connection (a subscribed one runs nothing else), subscribing again on
    // every reconnect and then reading what was missed, as the revocation sync does.
    const subscriber = duplicateRedis(redis, log, { autoResubscribe: false });
    subscriber.on('message', (ch: string) => {
      if (ch === channel) void inBackground(() => this.pull());
    });
    let subscribedOnce = false;
    subscriber.on('ready', () => {
      if (!subscribedOnce) return;
      subscriber.subscribe(channel).then(
        () => this.pull(),
        (err) => {
          log.warn({ err }, 'could not subscribe to the crisis channel after a Redis reconnect');
          if (subscriber.status === 'ready') subscriber.disconnect(true);
        },
      );
    });
    await subscriber.connect();
    await subscriber.subscribe(channel);
    subscribedOnce = true;
    this.publish = () => {
      redis
        .publish(channel, '1')
        .catch((err) =>
          log.warn({ err }, 'could not publish a crisis change; other instances read it at their next poll'),
        );
    };
    this.stopFns.push(() => closeRedis(subscriber));
  }

  /** Ends every open subscription (graceful shutdown: their clients reconnect elsewhere). */
  endSubscriptions(): void {
    // SERVICE_UNAVAILABLE: a code tRPC's client retries, reconnecting with its last event id.
    const reason = unavailable('This server is shutting down; reconnect');
    for (const s of this.subscribers) s.end(reason);
  }

  /** Ends every subscription and stops reading. */
  async stop(): Promise<void> {
    this.publish = undefined;
    this.endSubscriptions();
    for (const fn of this.stopFns.splice(0)) await fn();
  }

  /** After a committed crisis change: read it here now, and tell the other instances. */
  nudge(): void {
    this.publish?.();
    this.pull();
  }

  /** Reads the log forward from head and delivers; one read at a time (a call meanwhile reads again after). */
  pull(): Promise<void> {
    if (this.pulling) {
      this.again = true;
      return this.pulling;
    }
    this.pulling = (async () => {
      do {
        this.again = false;
        try {
          let rows: z.infer<typeof eventRow>[];
          do {
            rows = await readEvents(this.opts.db, this.head, PAGE);
            for (const r of rows) this.deliver(toEvent(r));
            if (rows.length > 0) this.head = rows[rows.length - 1]!.id;
          } while (rows.length === PAGE);
        } catch (err) {
          this.opts.log.warn({ err }, 'could not read the crisis event log; retried at the next poll');
        }
      } while (this.again);
    })().finally(() => {
      this.pulling = undefined;
    });
    return this.pulling;
  }

  private deliver(event: CrisisEvent) {
    for (const s of this.subscribers) s.push(event);
    this.opts.onDeliver?.(event, this.subscribers.size);
  }

  private revoked(e: RevocationEvent) {
    const subs = (e.kind === 'user' ? this.byUser : this.bySession).get(e.id);
    if (!subs) return;
    for (const s of subs)
      if (e.kind === 'session' || s.claims.iat < e.at) s.end(unauthorized(EXPIRED_TOKEN_MESSAGE));
  }

  private add(s: Subscriber) {
    const { maxPerUser, maxPerProcess } = this.opts;
    const mine = this.byUser.get(s.claims.sub);
    if (this.subscribers.size >= maxPerProcess)
      throw new DomainError('too_many_requests', 'This server holds as many live subscriptions as it may', {
        retryAfterSeconds: 30,
      });
    if (mine && mine.size >= maxPerUser)
      throw new DomainError(
        'too_many_requests',
        `At most ${maxPerUser} live subscriptions per user; close one first`,
        { retryAfterSeconds: 30 },
      );
    this.subscribers.add(s);
    for (const [map, key] of [
      [this.byUser, s.claims.sub],
      [this.bySession, s.claims.sid],
    ] as const) {
      const set = map.get(key);
      if (set) set.add(s);
      else map.set(key, new Set([s]));
    }
    // The token's end ends the stream (the client reconnects with a fresh one).
    const ms = s.claims.exp * 1000 - Date.now();
    s.timer = setTimeout(() => s.end(unauthorized(EXPIRED_TOKEN_MESSAGE)), Math.max(0, ms));
    s.timer.unref();
  }

  private remove(s: Subscriber) {
    clearTimeout(s.timer);
    this.subscribers.delete(s);
    for (const [map, key] of [
      [this.byUser, s.claims.sub],
      [this.bySession, s.claims.sid],
    ] as const) {
      const set = map.get(key);
      set?.delete(s);
      if (set?.size === 0) map.delete(key);
    }
  }

  /**
   * The events for one subscriber: those after lastEventId (when it resumes), then live ones,
   * until the signal aborts (the client left), the token expires or is revoked (UNAUTHORIZED),
   * or the feed stops. Refused at once (TOO_MANY_REQUESTS) beyond the caps.
   */
  async *events(
    claims: Pick<AccessClaims, 'sub' | 'sid' | 'iat' | 'exp'>,
    lastEventId: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<CrisisEvent> {
    const s = new Subscriber(claims);
    this.add(s);
    const onAbort = () => s.end('closed');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Registered first, then the backlog: an event delivered meanwhile is in both, and
      // the id check below yields it once.
      let last = lastEventId ?? this.head;
      if (lastEventId !== undefined) {
        const rows = await readEvents(this.opts.db, lastEventId, RESUME_LIMIT + 1);
        if (rows.length > RESUME_LIMIT || lastEventId > Math.max(this.head, rows.at(-1)?.id ?? 0)) {
          // Too far behind (or an id this log never gave): start over from the newest event.
          const newest = Math.max(this.head, rows.at(-1)?.id ?? 0);
          last = newest;
          yield resyncEvent(newest);
        } else
          for (const r of rows) {
            if (s.ended) break;
            last = r.id;
            yield toEvent(r);
          }
      }
      for (;;) {
        while (s.queue.length > 0 && !s.ended) {
          const event = s.queue.shift()!;
          if (Number(event.id) <= last) continue;
          last = Number(event.id);
          yield event;
        }
        if (s.ended) break;
        await new Promise<void>((resolve) => {
          s.wake = resolve;
        });
      }
      if (s.ended instanceof DomainError) throw s.ended;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.remove(s);
    }
  }
}

/**
 * After a committed crisis change (an alert raised or acknowledged): the live queue reads it
 * now, and a new alert's on-call notification goes now (server/live/crisis-watch.ts).
 */
export function crisisChanged(deps: { crisisFeed: CrisisFeed; crisisWatch: { kick(): void } }): void {
  // Background work of this instance, not statements of the calling procedure (its pinned count).
  void inBackground(async () => {
    deps.crisisFeed.nudge();
    deps.crisisWatch.kick();
  });
}

/** Open alerts and the oldest one's age in seconds (for /metrics): one query. */
export async function crisisQueueFigures(db: Executor): Promise<{ open: number; oldestSeconds: number }> {
  const [row] = await queryRows(
    db,
    z.object({ open: z.number(), oldest: z.number() }),
    sql`SELECT count(*)::int AS open,
               coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest
        FROM crisis_alerts WHERE status = 'open'`,
  );
  return { open: row?.open ?? 0, oldestSeconds: row?.oldest ?? 0 };
}
