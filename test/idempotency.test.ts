// Idempotency-Key on mutations (server/idempotency.ts), over HTTP on tRPC and REST, on PGlite
// and (with DATABASE_URL) PostgreSQL: a retry with the same key returns the first result
// without writing again, also when the first answer was lost because the connection was cut
// after the COMMIT (a proxy that drops the response); the same key with another input is
// refused; keys are per caller; a failed call stores nothing; concurrent retries write once.
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { account } from './accounts.ts';
import { DB_KINDS } from './helpers.ts';
import { startTestServer, type TestServer, trpcInput } from './server.ts';

describe.each(DB_KINDS)('Idempotency-Key (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ kind });
  });
  afterAll(async () => {
    await server?.close();
  });

  const rows = async (userId: string) =>
    (
      await queryRows(
        server.deps.db,
        countRow,
        sql`SELECT count(*)::int AS n FROM mood_entries WHERE user_id = ${userId}`,
      )
    )[0]!.n;
  const trpcLog = (base: string, token: string, score: number, key?: string) =>
    fetch(`${base}/trpc/mood.log`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        ...(key ? { 'idempotency-key': key } : {}),
      },
      body: trpcInput({ score }),
    });
  const restLog = (token: string, score: number, key?: string) =>
    fetch(`${server.url}/api/mood/log`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        ...(key ? { 'idempotency-key': key } : {}),
      },
      body: JSON.stringify({ score }),
    });
  const entryId = async (res: Response) => {
    const body = (await res.json()) as { result?: { data: { json: { id: string } } }; id?: string };
    return body.result?.data.json.id ?? body.id;
  };

  it('tRPC: a retry with the same key returns the first result and writes nothing', async () => {
    const me = await account(server, 'free');
    const key = randomUUID();
    const first = await trpcLog(server.url, me.token, 4, key);
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await trpcLog(server.url, me.token, 4, key);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await entryId(again)).toBe(await entryId(first));
    expect(await rows(me.id)).toBe(1);
    // Without a key, every call writes (the control).
    await trpcLog(server.url, me.token, 4);
    await trpcLog(server.url, me.token, 4);
    expect(await rows(me.id)).toBe(3);
  });

  it('REST: the same, and the replay is the same document', async () => {
    const me = await account(server, 'free');
    const key = randomUUID();
    const first = await restLog(me.token, 6, key);
    expect(first.status).toBe(200);
    const firstBody = await first.text();
    const again = await restLog(me.token, 6, key);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(firstBody);
    expect(await rows(me.id)).toBe(1);
  });

  it('refuses the same key with another input (400), scopes keys to the caller, stores nothing for a failed call', async () => {
    const [me, other] = [await account(server, 'free'), await account(server, 'free')];
    const key = randomUUID();
    expect((await trpcLog(server.url, me.token, 5, key)).status).toBe(200);
    const mismatch = await trpcLog(server.url, me.token, 7, key);
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toContain('another input');
    // Another caller's key of the same value is theirs: it writes.
    const theirs = await trpcLog(server.url, other.token, 5, key);
    expect(theirs.status).toBe(200);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect([await rows(me.id), await rows(other.id)]).toEqual([1, 1]);
    // A call that fails (an invalid score) stores nothing: the key is free for the next try.
    const failKey = randomUUID();
    expect((await trpcLog(server.url, me.token, 99, failKey)).status).toBe(400);
    const retry = await trpcLog(server.url, me.token, 8, failKey);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(await rows(me.id)).toBe(2);
    // A key that is not 1-255 visible ASCII characters is refused.
    expect((await trpcLog(server.url, me.token, 5, 'x'.repeat(256))).status).toBe(400);
  });

  it('writes once for concurrent requests with one key, all answered with that result', async () => {
    const me = await account(server, 'free');
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => trpcLog(server.url, me.token, 3, key)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(await Promise.all(answers.map(entryId))).size).toBe(1);
    expect(await rows(me.id)).toBe(1);
  });

  it('the connection cut after the COMMIT (answer lost), the retry with the key: exactly one row', async () => {
    const me = await account(server, 'free');
    // A proxy that passes the request on and cuts both connections at the first byte of
    // the answer: the server has committed and answered; the client never hears it.
    const target = new URL(server.url);
    let cut = 0;
    const proxy: Server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      client.pipe(upstream);
      upstream.once('data', () => {
        cut += 1;
        client.destroy();
        upstream.destroy();
      });
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxied = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const key = randomUUID();
      const lost = await trpcLog(proxied, me.token, 9, key).then(
        () => 'answered',
        (err: Error) => err.message,
      );
      expect(lost).not.toBe('answered');
      expect(cut).toBe(1);
      expect(await rows(me.id)).toBe(1); // it did commit
      const retry = await trpcLog(server.url, me.token, 9, key);
      expect(retry.status).toBe(200);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(await rows(me.id)).toBe(1);
      // The stored result is that row.
      const [row] = await queryRows(
        server.deps.db,
        z.object({ id: z.string() }),
        sql`SELECT id FROM mood_entries WHERE user_id = ${me.id}`,
      );
      expect(await entryId(retry)).toBe(row!.id);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
