// Runs the crisis duties (server/domain/crisis-duty.ts) on every instance: at once when this
// instance raised an alert (kick), and every CRISIS_ESCALATION_CHECK_MS (the alerts raised
// elsewhere, and the escalations, which come due with time). The alerts' own state in
// Postgres decides who does what, so N instances checking at once notify and escalate each
// alert once; an instance that dies between checks loses nothing (the next check, here or
// elsewhere, finds the alert still due). Escalations are pushed to the live queue.
import type { Logger } from 'pino';
import { type Db, inBackground } from '../../db/client.ts';
import { escalateDueAlerts, notifyNewAlerts } from '../domain/crisis-duty.ts';
import type { NotificationChannel } from '../notify/index.ts';
import type { CrisisFeed } from './crisis-feed.ts';

export interface CrisisWatchOptions {
  db: Db;
  log: Logger;
  channels: NotificationChannel[];
  feed: CrisisFeed;
  escalateAfterMinutes: number;
  checkIntervalMs: number;
  /** Observes each escalation made here (metrics). */
  onEscalated?: (count: number) => void;
}

export class CrisisWatch {
  private readonly opts: CrisisWatchOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(opts: CrisisWatchOptions) {
    this.opts = opts;
  }

  get started(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    this.timer ??= setInterval(() => void inBackground(() => this.check()), this.opts.checkIntervalMs);
    this.timer.unref();
    void this.check();
  }

  /** A new alert here: notify now (only when started: the checks are this instance's job). */
  kick(): void {
    if (this.started) void this.check();
  }

  /** Notifies new alerts and escalates due ones; one check at a time (a call meanwhile runs once more after). */
  check(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const { db, channels, log } = this.opts;
        try {
          await notifyNewAlerts(db, channels);
          const { escalated } = await escalateDueAlerts(db, channels, this.opts.escalateAfterMinutes);
          if (escalated > 0) {
            this.opts.onEscalated?.(escalated);
            this.opts.feed.nudge();
          }
        } catch (err) {
          log.error({ err }, 'crisis duty check failed; retried at the next check');
        }
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
