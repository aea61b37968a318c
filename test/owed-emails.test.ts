// The messages the product owes its users (issue 26 #5), read from a real SMTP server process:
// a receipt for a payment that took effect and a notice for one that failed (from Razorpay's
// signed webhooks; a replayed event sends nothing again), and the erasure scheduled,
// cancelled and done. Each message once, counted by its Message-ID.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RAZORPAY_WEBHOOK_PATH } from '../server/http/webhooks.ts';
import { accountErasureJob, JobRunner } from '../server/jobs/index.ts';
import { type Account, ADMIN_ENV, account, PASSWORD } from './accounts.ts';
import { RazorpayDouble } from './razorpay-double.ts';
import type { ReceivedMail } from './support/mail.ts';
import { type MailedServer, startMailedServer } from './support/mailed-server.ts';

let rzp: RazorpayDouble;
let running: MailedServer;
beforeAll(async () => {
  rzp = await new RazorpayDouble().start();
  running = await startMailedServer({ ...ADMIN_ENV, ...rzp.env });
}, 90_000);
afterAll(async () => {
  await running?.close();
  await rzp?.close();
});

const to = (who: Account, subject: RegExp) => (m: ReceivedMail) =>
  m.to.includes(who.email) && subject.test(m.subject);
/** The messages to `who` whose subject matches, once at least `count` have arrived. */
async function received(who: Account, subject: RegExp, count = 1): Promise<ReceivedMail[]> {
  const all = await running.mail.waitFor((ms) => ms.filter(to(who, subject)).length >= count);
  return all.filter(to(who, subject));
}
/**
 * Every message to `who` so far but the registration's confirmation link, by subject (after
 * a settle wait: a late duplicate would show).
 */
async function subjectsOf(who: Account): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 1500));
  return (await running.mail.messages())
    .filter((m) => m.to.includes(who.email) && !/^Confirm your email/.test(m.subject))
    .map((m) => m.subject);
}
const webhook = (d: Parameters<RazorpayDouble['deliver']>[1]) =>
  rzp.deliver(`${running.server.url}${RAZORPAY_WEBHOOK_PATH}`, d);

describe('emails the product owes', () => {
  it('a failed payment gets a notice, a captured one a receipt: once each, replays send nothing', async () => {
    const me = await account(running.server, 'free');
    const { orderId } = await me.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    const failed = rzp.fail(orderId);
    expect((await webhook(failed)).status).toBe(200);
    const [notice] = await received(me, /did not go through/);
    expect(notice!.text).toContain('Basic');

    const { captured, orderPaid } = rzp.pay(orderId);
    for (const d of [captured, orderPaid, captured, failed]) expect((await webhook(d)).status).toBe(200);
    const [receipt] = await received(me, /payment receipt/);
    expect(receipt!.text).toContain('₹499.00');
    expect(receipt!.text).toContain('Basic');
    expect(receipt!.text).toMatch(/runs until \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect((await subjectsOf(me)).sort()).toEqual([
      'Your MANAS360 payment did not go through',
      'Your MANAS360 payment receipt',
    ]);
  });

  it('erasure: scheduled, cancelled, scheduled again (asking twice sends once), then done', async () => {
    const me = await account(running.server, 'free');
    const { deletionDueAt } = await me.api.privacy.deleteAccount.mutate({ password: PASSWORD });
    await me.api.privacy.deleteAccount.mutate({ password: PASSWORD }); // keeps the schedule
    const [scheduled] = await received(me, /will be erased/);
    expect(scheduled!.text).toContain(`${deletionDueAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
    await me.api.privacy.cancelDeletion.mutate();
    await received(me, /will not be erased/);
    await me.api.privacy.deleteAccount.mutate({ password: PASSWORD });
    await received(me, /will be erased/, 2);

    const db = running.server.deps.db;
    await db.execute(sql`UPDATE users SET deletion_due_at = now() WHERE id = ${me.id}`);
    expect(await new JobRunner(running.server.deps).run(accountErasureJob)).toMatchObject({
      outcome: 'ran',
      detail: { erased: 1 },
    });
    const [done] = await received(me, /was erased/);
    expect(done!.text).toContain('This is the last email we send to this address.');
    expect(await subjectsOf(me)).toEqual([
      'Your MANAS360 account will be erased',
      'Your MANAS360 account will not be erased',
      'Your MANAS360 account will be erased',
      'Your MANAS360 account was erased',
    ]);
  });
});
