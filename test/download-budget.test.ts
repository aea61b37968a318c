// The download budget (server/limits/downloads.ts) over real HTTP: open downloads capped
// per user and per process (429 beyond, a slot freed when a download ends), a reader that
// stops reading stops the keyset cursor (no further page is read until it reads again), an
// idle reader loses the download, and reports have an hourly limit per kind like export's.
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onQuery } from '../db/client.ts';
import { type Account, ADMIN_ENV, account } from './accounts.ts';
import { DB_KINDS } from './helpers.ts';
import { startTestServer, type TestServer } from './server.ts';

const ROWS = 8000;
const until = async (what: string, ok: () => boolean, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

interface Opened {
  status: number;
  headers: IncomingMessage['headers'];
  res: IncomingMessage;
  req: ClientRequest;
  /** Set once the connection ended or was cut (before or after the whole body). */
  closed: boolean;
  complete: boolean;
}

/** GET with the response paused: nothing is read until res.resume(). */
function openPaused(server: TestServer, path: string, token: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        agent: false,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        res.pause();
        const opened: Opened = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          res,
          req,
          closed: false,
          complete: false,
        };
        res.once('end', () => {
          opened.complete = true;
        });
        res.once('close', () => {
          opened.closed = true;
        });
        resolve(opened);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const range = () => {
  const to = new Date(Date.now() + 60_000).toISOString();
  const from = new Date(Date.now() - 100 * 86_400_000).toISOString();
  return `from=${from}&to=${to}`;
};

async function fatMood(server: TestServer, userId: string) {
  // 20 tags of 40 characters: ~850 bytes a CSV line, ~7 MB a report (more than the
  // kernel's socket buffers take on loopback, up to ~4 MB, so a paused reader really stops
  // the server).
  const tags = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}${'t'.repeat(38)}`);
  await server.deps.db.execute(
    sql`INSERT INTO mood_entries (user_id, score, tags, created_at)
        SELECT ${userId}, 1 + g % 10, ${sql.raw(`ARRAY[${tags.map((t) => `'${t}'`).join(',')}]`)}::text[],
               now() - make_interval(mins => g)
        FROM generate_series(1, ${ROWS}) g`,
  );
}

describe('download budget', { timeout: 120_000 }, () => {
  let server: TestServer;
  let a: Account;
  let b: Account;
  beforeAll(async () => {
    // Real PostgreSQL when the run has it: megabytes of reports read page by page.
    server = await startTestServer({
      kind: DB_KINDS.at(-1),
      env: {
        ...ADMIN_ENV,
        DOWNLOADS_PER_USER: '2',
        DOWNLOADS_PER_PROCESS: '3',
        DOWNLOAD_IDLE_SECONDS: '2',
        REPORTS_PER_HOUR: '1000',
      },
    });
    a = await account(server, 'enterprise');
    b = await account(server, 'enterprise');
    await fatMood(server, a.id);
    await fatMood(server, b.id);
  });
  afterAll(async () => {
    await server?.close();
  });
  const mood = () => `/reports/mood?${range()}&format=csv`;

  it('caps open downloads per user and per process (429 with Retry-After); a finished one frees its slot', async () => {
    const budget = server.deps.downloads;
    const a1 = await openPaused(server, mood(), a.token);
    const a2 = await openPaused(server, mood(), a.token);
    expect([a1.status, a2.status]).toEqual([200, 200]);
    const a3 = await openPaused(server, mood(), a.token);
    expect(a3.status).toBe(429);
    expect(Number(a3.headers['retry-after'])).toBeGreaterThan(0);
    a3.res.resume();
    const b1 = await openPaused(server, mood(), b.token);
    expect(b1.status).toBe(200);
    // The process is full: another user is refused too, export included.
    const b2 = await openPaused(server, '/export', b.token);
    expect(b2.status).toBe(429);
    b2.res.resume();
    expect(budget.active).toBe(3);
    // A reader that reads to the end frees its slot.
    a1.res.resume();
    await until('the first download to end', () => a1.complete);
    await until('its slot to be freed', () => budget.active === 2);
    const a4 = await openPaused(server, mood(), a.token);
    expect(a4.status).toBe(200);
    for (const o of [a2, b1, a4]) o.req.destroy();
    await until('every slot to be freed', () => budget.active === 0);
  });

  it('a paused reader stops the cursor: no page is read until it reads again, then the rest arrives', async () => {
    let statements = 0;
    const stop = onQuery((scope) => {
      // Not a timer's resync or poll (inBackground): the statements requests make.
      if (!scope?.background) statements += 1;
    });
    try {
      const opened = await openPaused(server, mood(), a.token);
      expect(opened.status).toBe(200);
      // Wait until the server stops reading (the socket buffers are full).
      let last = -1;
      await until('the server to stop reading pages', () => {
        const still = statements === last;
        last = statements;
        return still && statements > 0;
      });
      await new Promise((r) => setTimeout(r, 500));
      const whilePaused = statements;
      expect(statements).toBe(whilePaused);
      let lines = 0;
      opened.res.on('data', (d: Buffer) => {
        for (const byte of d) if (byte === 10) lines += 1;
      });
      opened.res.resume();
      await until('the rest of the report', () => opened.complete);
      expect(lines).toBe(ROWS + 1);
      // The pages the paused reader did not take were read only once it read again.
      expect(statements).toBeGreaterThan(whilePaused + 20);
    } finally {
      stop();
    }
  });

  it('a reader that takes nothing for DOWNLOAD_IDLE_SECONDS loses the download and its slot', async () => {
    const opened = await openPaused(server, mood(), b.token);
    expect(opened.status).toBe(200);
    expect(server.deps.downloads.active).toBe(1);
    // The server gives up on it (a paused client does not see the end until it reads) ...
    await until('the idle download to be dropped', () => server.deps.downloads.active === 0, 60_000);
    // ... and the connection ends before the report does: the client reads what the socket
    // buffers held, then the cut (no final chunk: never taken for a complete file).
    let lines = 0;
    opened.res.on('data', (d: Buffer) => {
      for (const byte of d) if (byte === 10) lines += 1;
    });
    opened.res.on('error', () => {});
    opened.res.resume();
    await until('the connection to end', () => opened.closed);
    expect(opened.complete).toBe(false);
    expect(lines).toBeLessThan(ROWS + 1);
  });
});

describe('reports: an hourly limit per kind, as export has', () => {
  let server: TestServer;
  let me: Account;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...ADMIN_ENV, REPORTS_PER_HOUR: '1' } });
    me = await account(server, 'enterprise');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('the second mood report within the hour is 429 with Retry-After; another kind is not', async () => {
    const get = (path: string) =>
      fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${me.token}` } });
    const first = await get(`/reports/mood?${range()}&format=csv`);
    expect(first.status).toBe(200);
    await first.text();
    const second = await get(`/reports/mood?${range()}`);
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(3000);
    await second.text();
    const other = await get(`/reports/sessions?${range()}`);
    expect(other.status).toBe(200);
    await other.text();
  });
});
