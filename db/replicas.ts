// Read replicas (DATABASE_REPLICA_URLS): which database a read-only procedure reads from.
// A replica is used only while its last health check (every checkIntervalMs) found it up
// and at most maxLagMs behind the primary; a caller who wrote within the read-your-writes
// window reads from the primary (on every host: the window is kept in Redis too); a read
// that fails on a replica for want of a connection is run again on the primary in the same
// request. docs/decisions/read-replicas.md.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Redis } from 'ioredis';
import type postgres from 'postgres';
import { CURRENT_DB, type Db, type Replica } from './client.ts';

export interface ReplicaState {
  name: string;
  up: boolean;
  /** How far behind the primary it was at the last check (ms); NaN when down. */
  lagMs: number;
  checkedAt: number;
}

export type FallbackReason = 'read_your_writes' | 'unhealthy' | 'error';

export interface ReadRouterOptions {
  maxLagMs: number;
  checkIntervalMs?: number;
  /** Shares the read-your-writes window between hosts; without it, this process only. */
  redis?: Redis | undefined;
  keyPrefix?: string;
  onFallback?: (reason: FallbackReason) => void;
  onCheckFailed?: (replica: string, err: unknown) => void;
}

export { CURRENT_DB };

export class ReadRouter {
  readonly states: ReplicaState[];
  /** After a caller's write, their reads go to the primary this long (lag bound + check interval). */
  readonly windowMs: number;
  private readonly scope = new AsyncLocalStorage<Db>();
  private readonly writers = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly checkIntervalMs: number;
  private readonly primary: Db;
  private readonly primaryPg: postgres.Sql;
  private readonly replicas: Replica[];
  private readonly opts: ReadRouterOptions;

  constructor(primary: Db, primaryPg: postgres.Sql, replicas: Replica[], opts: ReadRouterOptions) {
    this.primary = primary;
    this.primaryPg = primaryPg;
    this.replicas = replicas;
    this.opts = opts;
    this.checkIntervalMs = opts.checkIntervalMs ?? 1000;
    this.windowMs = opts.maxLagMs + this.checkIntervalMs;
    this.states = replicas.map((r) => ({ name: r.name, up: false, lagMs: Number.NaN, checkedAt: 0 }));
  }

  /** The Db read-only procedures use: whatever `run` chose for this call, else the primary. */
  readonly db: Db = new Proxy({} as Db, {
    get: (_, prop) => {
      const db = this.scope.getStore() ?? this.primary;
      if (prop === CURRENT_DB) return db;
      const value = Reflect.get(db, prop, db);
      return typeof value === 'function' ? value.bind(db) : value;
    },
  });

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Measures every replica's lag against the primary's current WAL position. */
  async check(): Promise<void> {
    let primaryLsn: string;
    try {
      const [row] = await this.primaryPg`SELECT pg_current_wal_lsn()::text AS lsn`;
      primaryLsn = row!.lsn as string;
    } catch {
      return; // the primary's own trouble: /readyz says so; keep the last states
    }
    await Promise.all(
      this.replicas.map(async (r, i) => {
        const state = this.states[i]!;
        try {
          const [row] = await r.pg`
            SELECT pg_is_in_recovery() AS replica,
                   coalesce(pg_last_wal_replay_lsn() >= ${primaryLsn}::pg_lsn, true) AS caught_up,
                   extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000 AS behind_ms`;
          state.lagMs =
            !row!.replica || row!.caught_up ? 0 : Number(row!.behind_ms ?? Number.POSITIVE_INFINITY);
          state.up = true;
        } catch (err) {
          state.up = false;
          state.lagMs = Number.NaN;
          this.opts.onCheckFailed?.(r.name, err);
        }
        state.checkedAt = Date.now();
      }),
    );
  }

  private usable(i: number): boolean {
    const s = this.states[i]!;
    return s.up && s.lagMs <= this.opts.maxLagMs && Date.now() - s.checkedAt < 3 * this.checkIntervalMs;
  }

  /** Records that `userId` wrote: their reads go to the primary for windowMs, on every host. */
  noteWrite(userId: string): void {
    if (this.replicas.length === 0) return;
    this.writers.set(userId, Date.now() + this.windowMs);
    const redis = this.opts.redis;
    if (redis?.status === 'ready')
      redis.set(this.key(userId), '1', 'PX', this.windowMs).catch(() => {
        // Redis trouble: other hosts may serve this caller from a replica within the window.
      });
  }

  private key(userId: string): string {
    return `${this.opts.keyPrefix ?? 'manas360'}:rw:${userId}`;
  }

  private async wroteRecently(userId: string): Promise<boolean> {
    const until = this.writers.get(userId);
    if (until !== undefined) {
      if (until > Date.now()) return true;
      this.writers.delete(userId);
    }
    const redis = this.opts.redis;
    if (!redis) return false;
    if (redis.status !== 'ready') return true; // cannot tell: the primary is always right
    return (await redis.exists(this.key(userId)).catch(() => 1)) === 1;
  }

  /** The database for a read by `userId` (undefined: anonymous). */
  async choose(userId: string | undefined): Promise<{ db: Db; replica?: number }> {
    if (this.replicas.length === 0) return { db: this.primary };
    if (userId && (await this.wroteRecently(userId))) {
      this.opts.onFallback?.('read_your_writes');
      return { db: this.primary };
    }
    const usable = this.replicas.map((_, i) => i).filter((i) => this.usable(i));
    if (usable.length === 0) {
      this.opts.onFallback?.('unhealthy');
      return { db: this.primary };
    }
    const i = usable[Math.floor(Math.random() * usable.length)]!;
    return { db: this.replicas[i]!.db, replica: i };
  }

  /**
   * Runs a read-only call on the chosen database; if it fails on a replica for want of a
   * connection, marks that replica down and runs the call again on the primary.
   */
  async run<T>(
    userId: string | undefined,
    fn: () => Promise<T>,
    failedForConnection: (result: T) => boolean,
  ): Promise<T> {
    const chosen = await this.choose(userId);
    const result = await this.scope.run(chosen.db, fn);
    if (chosen.replica === undefined || !failedForConnection(result)) return result;
    const state = this.states[chosen.replica]!;
    state.up = false;
    state.lagMs = Number.NaN;
    this.opts.onFallback?.('error');
    return this.scope.run(this.primary, fn);
  }
}
