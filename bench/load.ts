// The load generator (a child process of bench/run.ts, pinned to its own core): drives one
// URL with autocannon, rotating through the bench users' bearer tokens, and prints one
// JSON line: requests/s, latency percentiles (p50/p95/p99 from every response), errors.
// A fixed rate is an open loop of its own (fixedRate), not autocannon's overallRate.
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { MIX, type MixData, mixRequest } from './mix.ts';

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  body?: string;
  /** File with one bearer token per line; empty: anonymous. */
  tokensFile?: string;
  connections: number;
  durationSeconds: number;
  /** Fixed overall rate (req/s) for latency-at-load; unset: as fast as possible. */
  rate?: number;
  /** The mixed workload (bench/mix.ts): a JSON MixData file; `url` then names only the origin. */
  mixFile?: string;
}

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
  errorRate: number;
  /** Mixed workload only: requests and non-2xx answers per procedure. */
  perProcedure?: Record<string, { requests: number; non2xx: number }>;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
  const tokens = spec.tokensFile ? readFileSync(spec.tokensFile, 'utf8').split('\n').filter(Boolean) : [];
  const base: Record<string, string> = spec.body ? { 'content-type': 'application/json' } : {};
  const perProcedure: NonNullable<LoadResult['perProcedure']> = {};
  // autocannon pre-builds each request; every connection cycles through all of them. The
  // mix builds each request as it is sent (weighted random procedure, fresh bodies).
  const mix = spec.mixFile ? (JSON.parse(readFileSync(spec.mixFile, 'utf8')) as MixData) : undefined;
  const plain = (tokens.length ? tokens : [undefined]).map((t) => ({
    method: spec.method ?? 'GET',
    ...(spec.body ? { body: spec.body } : {}),
    headers: t ? { ...base, authorization: `Bearer ${t}` } : base,
  }));
  const requests = mix ? [mixedRequest(mix, perProcedure)] : plain;
  if (spec.rate && !mix) {
    process.stdout.write(`${JSON.stringify(await fixedRate(spec, spec.rate, plain))}\n`);
    return;
  }
  const latencies: number[] = [];
  let done!: (r: autocannon.Result) => void;
  let fail!: (e: unknown) => void;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url: spec.url,
      connections: spec.connections,
      duration: spec.durationSeconds,
      requests,
      ...(spec.rate ? { overallRate: spec.rate } : {}),
    },
    (err, r) => (err ? fail(err) : done(r)),
  );
  instance.on('response', (_client, _status, _bytes, ms) => {
    latencies.push(ms);
  });
  const result = await finished;
  // Refresh tokens are single-use: the next run (after a warm-up) gets only the unused ones.
  if (mix && spec.mixFile) writeFileSync(spec.mixFile, JSON.stringify(mix));
  const sorted = Float64Array.from(latencies).sort();
  const total = result.requests.total;
  const out: LoadResult = {
    requests: total,
    durationSeconds: result.duration,
    rps: total / result.duration,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : 0,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    errorRate:
      total + result.errors > 0
        ? (result.non2xx + result.errors + result.timeouts) / (total + result.errors)
        : 0,
    ...(spec.mixFile ? { perProcedure } : {}),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/**
 * `rate` requests a second for the run's duration, each sent at its scheduled time whether or
 * not earlier ones have been answered (an open loop, as users arrive), over at most
 * `connections` keep-alive sockets; a request waits for a free one when all are busy. Latency
 * counts from the scheduled time, so a server that falls behind shows it in full (no
 * coordinated omission). autocannon's overallRate lets each connection send its share at
 * the start of every second: 50 requests at once, a burst the latency then measures.
 */
async function fixedRate(
  spec: LoadSpec,
  rate: number,
  requests: Array<{ method: string; body?: string; headers: Record<string, string> }>,
): Promise<LoadResult> {
  const url = new URL(spec.url);
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
  const interval = 1000 / rate;
  const total = Math.round(rate * spec.durationSeconds);
  const latencies = new Float64Array(total);
  let answered = 0;
  let errors = 0;
  let non2xx = 0;
  let sent = 0;
  let open = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const settled = () => {
      open -= 1;
      if (sent === total && open === 0) resolve();
    };
    const send = (scheduled: number, r: (typeof requests)[number]) => {
      open += 1;
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method: r.method,
          headers: r.headers,
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.once('end', () => {
            latencies[answered++] = performance.now() - scheduled;
            if (!res.statusCode || res.statusCode < 200 || res.statusCode > 299) non2xx += 1;
            settled();
          });
        },
      );
      req.once('timeout', () => req.destroy(new Error('timeout')));
      req.once('error', () => {
        errors += 1;
        settled();
      });
      req.end(r.body);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        send(start + sent * interval, requests[sent % requests.length]!);
        sent += 1;
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
  agent.destroy();
  const durationSeconds = (performance.now() - start) / 1000;
  const sorted = latencies.slice(0, answered).sort();
  return {
    requests: answered,
    durationSeconds,
    rps: answered / durationSeconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : 0,
    errors,
    non2xx,
    errorRate: total > 0 ? (non2xx + errors) / total : 0,
  };
}

/** One autocannon request that becomes a weighted-random procedure call each time it is sent. */
function mixedRequest(data: MixData, tally: NonNullable<LoadResult['perProcedure']>) {
  const total = MIX.reduce((n, e) => n + e.weight, 0);
  const pick = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)]!;
  const choose = () => {
    let r = Math.random() * total;
    for (const e of MIX) {
      r -= e.weight;
      if (r < 0) return e;
    }
    return MIX[0]!;
  };
  return {
    setupRequest: (req: autocannon.Request, context: object): autocannon.Request => {
      let built = mixRequest(choose(), data, pick);
      while (!built) built = mixRequest(choose(), data, pick);
      (context as { procedure?: string }).procedure = built.path.slice('/trpc/'.length).split('?')[0];
      return { ...req, ...built };
    },
    onResponse: (status: number, _body: string, context: object) => {
      const p = String((context as { procedure?: string }).procedure);
      const t = tally[p] ?? { requests: 0, non2xx: 0 };
      tally[p] = t;
      t.requests += 1;
      if (status < 200 || status > 299) t.non2xx += 1;
    },
  };
}

await main();
