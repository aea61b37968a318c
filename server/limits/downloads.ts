// The budget of streamed downloads (GET /export, GET /reports/*; server/http/downloads.ts):
//   - concurrency: at most DOWNLOADS_PER_USER open at once per user and DOWNLOADS_PER_PROCESS
//     per process; beyond either, TOO_MANY_REQUESTS (Retry-After) before any work;
//   - backpressure end to end: the body pulls the next chunk from the document's generator
//     only when the socket has taken the last one, so a reader that stops reading stops the
//     keyset cursor (the next page is never read) instead of filling a buffer — one chunk
//     (a page's text, ~PAGE_TEXT_BYTES) waits in the socket and at most one in the body;
//   - an idle timeout: a reader that takes nothing for DOWNLOAD_IDLE_SECONDS loses the
//     download (the response is destroyed, the connection closed, the slot freed).
// Per process and in memory: a slot is a live response of this process.
import { Readable } from 'node:stream';
import { tooManyRequests } from '../domain/errors.ts';
import { toTRPCError } from '../trpc/errors.ts';

export interface DownloadBudgetOptions {
  perUser: number;
  perProcess: number;
  idleSeconds: number;
}

/** A held slot; release() is idempotent. */
export interface DownloadSlot {
  release(): void;
}

export class DownloadBudget {
  private readonly byUser = new Map<string, number>();
  private open = 0;
  readonly opts: DownloadBudgetOptions;
  constructor(opts: DownloadBudgetOptions) {
    this.opts = opts;
  }

  /** Downloads open now (all users). */
  get active(): number {
    return this.open;
  }

  /** Takes a slot for `userId`, or throws TOO_MANY_REQUESTS (Retry-After: a few seconds). */
  acquire(userId: string): DownloadSlot {
    const mine = this.byUser.get(userId) ?? 0;
    if (mine >= this.opts.perUser || this.open >= this.opts.perProcess) throw toTRPCError(tooManyRequests(5));
    this.byUser.set(userId, mine + 1);
    this.open += 1;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.open -= 1;
        const left = (this.byUser.get(userId) ?? 1) - 1;
        if (left > 0) this.byUser.set(userId, left);
        else this.byUser.delete(userId);
      },
    };
  }

  /**
   * The response body for `chunks` (the first one already taken by the caller, passed as
   * `first`): a byte stream that asks the generator for a chunk only when it is read, ends
   * the generator (and so the cursor) when destroyed, destroys itself when the reader takes
   * nothing for idleSeconds, and releases `slot` when it ends in any way.
   */
  body(first: string | undefined, chunks: AsyncIterator<string>, slot: DownloadSlot): Readable {
    const idleMs = this.opts.idleSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    let pending = first;
    const stream = new Readable({
      // Bytes, not objects: a chunk larger than this is enough to stop further reads.
      highWaterMark: 16 * 1024,
      read() {
        // The reader took something: it is not idle. Re-armed after the next push.
        clearTimeout(timer);
        if (pending !== undefined) {
          const chunk = pending;
          pending = undefined;
          push(chunk);
          return;
        }
        chunks.next().then(
          (next) => (next.done ? stream.push(null) : push(next.value)),
          (err: unknown) => stream.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      },
      destroy(err, callback) {
        clearTimeout(timer);
        slot.release();
        // Ends the generator: its finally blocks run and no further page is read.
        void chunks.return?.(undefined)?.catch(() => undefined);
        callback(err);
      },
    });
    function push(chunk: string) {
      if (stream.destroyed) return;
      stream.push(Buffer.from(chunk, 'utf8'));
      clearTimeout(timer);
      timer = setTimeout(() => stream.destroy(new DownloadIdleError()), idleMs);
      timer.unref();
    }
    stream.once('end', () => {
      clearTimeout(timer);
      slot.release();
    });
    return stream;
  }
}

/** A reader that took nothing for the idle timeout. */
export class DownloadIdleError extends Error {
  constructor() {
    super('download idle: the reader took nothing for the idle timeout');
  }
}
