// support.* over HTTP: tickets for every plan, the staff queue with Premium and Enterprise
// tickets first, replies and statuses, escalation behind priority_support, priority that
// follows the plan, limits on open tickets and messages (exact under concurrency), one
// statement per call, audit entries, strict inputs.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { createTicket, replyToTicket } from '../server/domain/support.ts';
import { SUPPORT_MAX_OPEN_TICKETS, SUPPORT_MAX_OWNER_MESSAGES } from '../shared/inputs/support.ts';
import { type Account, ADMIN_ENV, account, adminAccount, failure, serverQueries } from './accounts.ts';
import { createUser } from './fixtures/domain.ts';
import { createTestDeps, REAL_DATABASE_URL } from './helpers.ts';
import { startTestServer, type TestServer } from './server.ts';

describe('support.*', () => {
  let server: TestServer;
  let staff: Account;
  beforeAll(async () => {
    server = await startTestServer({ env: ADMIN_ENV });
    staff = await account(server, 'free', 'admin');
  });
  afterAll(async () => {
    await server?.close();
  });

  const audits = (action: string, ticketId: string) =>
    queryRows(
      server.deps.db,
      z.object({ actor_id: z.string(), target_id: z.string() }),
      sql`SELECT actor_id, target_id FROM audit_log WHERE action = ${action} AND details->>'ticketId' = ${ticketId}`,
    );

  it('every plan opens tickets (one statement, audited); the priority comes from the plan', async () => {
    const free = await account(server, 'free');
    const premium = await account(server, 'premium');
    const { result: standard, queries } = await serverQueries(() =>
      free.api.support.create.mutate({ subject: ' Login trouble ', body: 'I cannot log in on my phone.' }),
    );
    // The advisory lock on the caller (the open-ticket limit), then the ticket.
    expect(queries).toBe(2);
    expect(standard).toMatchObject({ subject: 'Login trouble', priority: 'standard', status: 'open' });
    expect(await audits('support.create', standard.id)).toEqual([{ actor_id: free.id, target_id: free.id }]);
    const priority = await premium.api.support.create.mutate({ subject: 'Refund', body: 'Please refund.' });
    expect(priority.priority).toBe('priority');

    const { result: mine, queries: listQueries } = await serverQueries(() =>
      free.api.support.listMine.query(),
    );
    expect(listQueries).toBe(1);
    expect(mine.items.map((t) => t.id)).toEqual([standard.id]);
  });

  it('the staff queue puts Premium and Enterprise tickets first, then the oldest; one statement', async () => {
    const free = await account(server, 'free');
    const enterprise = await account(server, 'enterprise');
    const older = await free.api.support.create.mutate({ subject: 'First', body: 'first' });
    const newer = await enterprise.api.support.create.mutate({ subject: 'Second', body: 'second' });
    const { result: queue, queries } = await serverQueries(() =>
      staff.api.support.queue.query({ limit: 100 }),
    );
    expect(queries).toBe(1);
    const ids = queue.items.map((t) => t.id);
    expect(ids.indexOf(newer.id)).toBeLessThan(ids.indexOf(older.id));
    const priorities = queue.items.map((t) => t.priority);
    expect(priorities).toEqual([...priorities].sort()); // every 'priority' before any 'standard'
    // Pages follow the same order.
    const first = await staff.api.support.queue.query({ limit: 1 });
    const second = await staff.api.support.queue.query({ limit: 1, cursor: first.nextCursor! });
    expect([first.items[0]!.id, second.items[0]!.id]).toEqual(ids.slice(0, 2));
    // Patients have no queue.
    expect((await failure(free.api.support.queue.query())).data).toMatchObject({
      reason: 'missing_permission',
      required: 'support.manage',
    });
  });

  it('staff reply (answered) and close; the owner replies (open again); one statement each, audited', async () => {
    const me = await account(server, 'basic');
    const ticket = await me.api.support.create.mutate({ subject: 'Help', body: 'question' });
    const { result: answer, queries } = await serverQueries(() =>
      staff.api.support.reply.mutate({ ticketId: ticket.id, body: 'answer' }),
    );
    expect(queries).toBe(1);
    expect(answer).toMatchObject({ status: 'answered', fromStaff: true });
    expect(await audits('support.reply', ticket.id)).toEqual([{ actor_id: staff.id, target_id: me.id }]);
    const back = await me.api.support.reply.mutate({ ticketId: ticket.id, body: 'follow-up' });
    expect(back).toMatchObject({ status: 'open', fromStaff: false });

    const { result: thread, queries: threadQueries } = await serverQueries(() =>
      me.api.support.thread.query({ ticketId: ticket.id }),
    );
    expect(threadQueries).toBe(1);
    expect(thread.messages.map((m) => [m.fromStaff, m.body])).toEqual([
      [false, 'question'],
      [true, 'answer'],
      [false, 'follow-up'],
    ]);

    const { result: closed, queries: statusQueries } = await serverQueries(() =>
      staff.api.support.setStatus.mutate({ ticketId: ticket.id, status: 'closed' }),
    );
    expect(statusQueries).toBe(1);
    expect(closed.status).toBe('closed');
    expect(await audits('support.setStatus', ticket.id)).toHaveLength(1);
    expect(
      (await failure(me.api.support.reply.mutate({ ticketId: ticket.id, body: 'again' }))).data?.code,
    ).toBe('NOT_FOUND');
  });

  it("another user's ticket is not found (thread, reply, escalate)", async () => {
    const owner = await account(server, 'free');
    const other = await account(server, 'premium');
    const ticket = await owner.api.support.create.mutate({ subject: 'Private', body: 'mine' });
    for (const call of [
      () => other.api.support.thread.query({ ticketId: ticket.id }),
      () => other.api.support.reply.mutate({ ticketId: ticket.id, body: 'hi' }),
      () => other.api.support.escalate.mutate({ ticketId: ticket.id }),
    ])
      expect((await failure(call())).data?.code).toBe('NOT_FOUND');
  });

  it('escalate needs priority_support (missing_feature below Premium); after upgrading it lifts the ticket', async () => {
    const me = await account(server, 'basic');
    const ticket = await me.api.support.create.mutate({ subject: 'Slow', body: 'slow app' });
    const refused = await serverQueries(() =>
      failure(me.api.support.escalate.mutate({ ticketId: ticket.id })),
    );
    expect(refused.result.data).toMatchObject({ reason: 'missing_feature', required: 'priority_support' });
    expect(refused.queries).toBe(0);

    const root = (await adminAccount(server)).api;
    await root.admin.users.setPlan.mutate({ userId: me.id, planCode: 'premium' });
    const upgraded = server.client(
      (await server.client().auth.login.mutate({ email: me.email, password: 'a long enough password' }))
        .accessToken,
    );
    const { result, queries } = await serverQueries(() =>
      upgraded.support.escalate.mutate({ ticketId: ticket.id }),
    );
    expect(queries).toBe(1);
    expect(result.priority).toBe('priority');
    expect(await audits('support.escalate', ticket.id)).toHaveLength(1);
  });

  /** Calls started together, in waves of 10 (a tRPC batch holds at most MAX_BATCH_SIZE calls). */
  const settled = async (calls: (() => Promise<unknown>)[]) => {
    const results: PromiseSettledResult<unknown>[] = [];
    for (let i = 0; i < calls.length; i += 10)
      results.push(...(await Promise.allSettled(calls.slice(i, i + 10).map((call) => call()))));
    const refused = results.flatMap((r) =>
      r.status === 'rejected' ? [r.reason as { data?: { code?: string } }] : [],
    );
    return { ok: results.length - refused.length, codes: [...new Set(refused.map((e) => e.data?.code))] };
  };

  it(`a user has at most ${SUPPORT_MAX_OPEN_TICKETS} tickets not closed: exact when they are opened at once`, async () => {
    const me = await account(server, 'premium');
    const opened = await settled(
      Array.from(
        { length: SUPPORT_MAX_OPEN_TICKETS + 4 },
        (_, i) => () => me.api.support.create.mutate({ subject: `Flood ${i}`, body: 'x'.repeat(4000) }),
      ),
    );
    expect(opened).toEqual({ ok: SUPPORT_MAX_OPEN_TICKETS, codes: ['CONFLICT'] });
    const refused = await failure(me.api.support.create.mutate({ subject: 'One more', body: 'x' }));
    expect(refused.message).toMatch(/open tickets/);
    // Closing one makes room for one.
    const mine = await me.api.support.listMine.query();
    expect(mine.items).toHaveLength(SUPPORT_MAX_OPEN_TICKETS);
    await staff.api.support.setStatus.mutate({ ticketId: mine.items[0]!.id, status: 'closed' });
    await me.api.support.create.mutate({ subject: 'Room again', body: 'x' });
    expect((await failure(me.api.support.create.mutate({ subject: 'No room', body: 'x' }))).data?.code).toBe(
      'CONFLICT',
    );
  });

  it(`the owner writes at most ${SUPPORT_MAX_OWNER_MESSAGES} messages on a ticket (exact at once); staff still answer`, async () => {
    const me = await account(server, 'free');
    const ticket = await me.api.support.create.mutate({ subject: 'Chatty', body: 'first' });
    const replies = await settled(
      Array.from(
        { length: SUPPORT_MAX_OWNER_MESSAGES + 10 },
        (_, i) => () => me.api.support.reply.mutate({ ticketId: ticket.id, body: `more ${i}` }),
      ),
    );
    expect(replies).toEqual({ ok: SUPPORT_MAX_OWNER_MESSAGES - 1, codes: ['CONFLICT'] });
    const thread = await staff.api.support.thread.query({ ticketId: ticket.id });
    expect(thread.messages.filter((m) => !m.fromStaff)).toHaveLength(SUPPORT_MAX_OWNER_MESSAGES);
    expect((await staff.api.support.reply.mutate({ ticketId: ticket.id, body: 'answer' })).status).toBe(
      'answered',
    );
    // A ticket of someone else's is still not found, full or not.
    const other = await account(server, 'free');
    expect(
      (await failure(other.api.support.reply.mutate({ ticketId: ticket.id, body: 'x' }))).data?.code,
    ).toBe('NOT_FOUND');
  });

  it('priority follows the plan: a downgrade or an expiry makes open priority tickets standard, closed ones stay', async () => {
    const root = (await adminAccount(server)).api;
    const priorityOf = async (id: string) =>
      (await staff.api.support.thread.query({ ticketId: id })).priority;

    const downgraded = await account(server, 'premium');
    const open = await downgraded.api.support.create.mutate({ subject: 'Open', body: 'x' });
    const done = await downgraded.api.support.create.mutate({ subject: 'Done', body: 'x' });
    await staff.api.support.setStatus.mutate({ ticketId: done.id, status: 'closed' });
    await root.admin.users.setPlan.mutate({ userId: downgraded.id, planCode: 'enterprise' });
    expect(await priorityOf(open.id)).toBe('priority'); // an upgrade keeps it
    await root.admin.users.setPlan.mutate({ userId: downgraded.id, planCode: 'basic' });
    expect([await priorityOf(open.id), await priorityOf(done.id)]).toEqual(['standard', 'priority']);

    const lapsed = await account(server, 'premium');
    const ticket = await lapsed.api.support.create.mutate({ subject: 'Lapsing', body: 'x' });
    await server.deps.db.execute(
      sql`UPDATE subscriptions SET current_period_end = now() - interval '1 minute' WHERE user_id = ${lapsed.id}`,
    );
    expect(await priorityOf(ticket.id)).toBe('standard');
  });

  it('refuses bad input with 400 and stores nothing', async () => {
    const me = await account(server, 'free');
    for (const call of [
      () => me.api.support.create.mutate({ subject: '', body: 'x' }),
      () => me.api.support.create.mutate({ subject: 'x'.repeat(201), body: 'x' }),
      () => me.api.support.create.mutate({ subject: 'ok', body: 'x'.repeat(5001) }),
      () => me.api.support.create.mutate({ subject: 'ok', body: 'x', priority: 'priority' } as never),
      () => me.api.support.reply.mutate({ ticketId: 'not-a-uuid', body: 'x' }),
      () => staff.api.support.setStatus.mutate({ ticketId: me.id, status: 'deleted' as 'closed' }),
    ])
      expect((await failure(call())).data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    const [row] = await queryRows(
      server.deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM support_tickets WHERE user_id = ${me.id}`,
    );
    expect(row!.n).toBe(0);
  });
});

describe.skipIf(!REAL_DATABASE_URL)(
  'support limits on PostgreSQL: exact when calls race on separate connections',
  () => {
    let deps: Awaited<ReturnType<typeof createTestDeps>>;
    beforeAll(async () => {
      deps = await createTestDeps('postgres');
    });
    afterAll(async () => {
      await deps?.dispose();
    });
    const fulfilled = (results: PromiseSettledResult<unknown>[]) =>
      results.filter((r) => r.status === 'fulfilled').length;

    it('20 tickets opened at once: exactly the limit is opened', async () => {
      const user = await createUser(deps.db);
      const raced = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          createTicket(deps.db, user.claims, '127.0.0.1', { subject: `Race ${i}`, body: 'x' }),
        ),
      );
      expect(fulfilled(raced)).toBe(SUPPORT_MAX_OPEN_TICKETS);
    });

    it("60 replies at once: exactly the limit of the owner's messages is written", async () => {
      const user = await createUser(deps.db);
      const ticket = await createTicket(deps.db, user.claims, '127.0.0.1', { subject: 'Race', body: 'x' });
      const raced = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) =>
          replyToTicket(deps.db, user.claims, '127.0.0.1', { ticketId: ticket.id, body: `reply ${i}` }),
        ),
      );
      expect(fulfilled(raced)).toBe(SUPPORT_MAX_OWNER_MESSAGES - 1);
    });
  },
);
