// crisis.onChange from a test, as a client does it: tRPC's httpSubscriptionLink over
// server-sent events (the `eventsource` package, which sends the bearer token through its
// fetch), with the events collected and awaited by condition.
import { createTRPCClient, httpSubscriptionLink, type TRPCClientError } from '@trpc/client';
import { EventSource } from 'eventsource';
import superjson from 'superjson';
import type { CrisisEvent } from '../../shared/contracts/crisis/index.ts';
import type { AppRouter } from '../../shared/index.ts';

export interface LiveQueue {
  events: Array<CrisisEvent & { receivedAt: number }>;
  /** The error that ended the subscription, if one did. */
  error: TRPCClientError<AppRouter> | undefined;
  /** How many times the stream was (re)started. */
  starts: number;
  /** Resolves with the first event matching, waiting up to timeoutMs. */
  next(match: (e: CrisisEvent) => boolean, timeoutMs?: number): Promise<CrisisEvent & { receivedAt: number }>;
  /** Resolves when the subscription ended with an error. */
  ended(timeoutMs?: number): Promise<TRPCClientError<AppRouter>>;
  started(timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Polls cond every 5 ms until true or timeoutMs. */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function subscribeCrisis(
  baseUrl: string,
  token: string | (() => string),
  lastEventId?: string,
): LiveQueue {
  const client = createTRPCClient<AppRouter>({
    links: [
      httpSubscriptionLink({
        url: `${baseUrl}/trpc`,
        transformer: superjson,
        EventSource,
        eventSourceOptions: () => ({
          fetch: (input, init) =>
            fetch(input, {
              ...init,
              headers: {
                ...init.headers,
                authorization: `Bearer ${typeof token === 'function' ? token() : token}`,
              },
            }),
        }),
      }),
    ],
  });
  const q: LiveQueue = {
    events: [],
    error: undefined,
    starts: 0,
    async next(match, timeoutMs = 10_000) {
      let found: (CrisisEvent & { receivedAt: number }) | undefined;
      await until(
        () => {
          found = q.events.find(match);
          return found !== undefined;
        },
        'a crisis event',
        timeoutMs,
      );
      return found!;
    },
    async ended(timeoutMs = 10_000) {
      await until(() => q.error !== undefined, 'the subscription to end', timeoutMs);
      return q.error!;
    },
    async started(timeoutMs = 10_000) {
      await until(() => q.starts > 0, 'the subscription to start', timeoutMs);
    },
    close: () => sub.unsubscribe(),
  };
  const sub = client.crisis.onChange.subscribe(lastEventId ? { lastEventId } : {}, {
    onStarted: () => {
      q.starts += 1;
    },
    onData: (envelope) => {
      q.events.push({ ...envelope.data, receivedAt: performance.now() });
    },
    onError: (err) => {
      q.error = err;
    },
  });
  return q;
}
