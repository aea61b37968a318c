// How tests get what auth.register answered before registration needed a confirmed address
// (docs/decisions/registration-privacy.md): a signed-in session of a new patient. Registers,
// confirms the account in the database (as following the emailed link does, without the
// email: the link itself is tested in test/account-email.test.ts) and logs in. One flow for
// both kinds of client (the HTTP client in test/server.ts, the in-process caller in
// test/helpers.ts), each passing its calls in; anything that needs a database client of its
// own (a spawned server) passes `confirm` instead of `db`.
import { sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.ts';
import type { RegisterInput } from '../../shared/inputs/auth.ts';

export interface RegisterCalls<P> {
  register(input: RegisterInput): Promise<unknown>;
  login(credentials: { email: string; password: string }): Promise<P>;
}

/** A tagged template that runs or builds SQL: drizzle's `sql`, or a postgres.js client. */
type SqlTag<T> = (strings: TemplateStringsArray, ...values: string[]) => T;

/**
 * The pending account of `email` becomes active, as auth.verifyEmail makes it, but with the
 * address left unconfirmed (email_verified_at) as a registration's used to be. 1 statement,
 * through drizzle (`confirmRegistration(sql, email)`, then execute) or postgres.js (a spawned
 * server's database: `await confirmRegistration(pg, email)`).
 */
export function confirmRegistration<T>(tag: SqlTag<T>, email: string): T {
  return tag`UPDATE users SET status = 'active', updated_at = now()
             WHERE lower(email) = lower(${email}) AND status = 'pending'`;
}
export const confirmRegistrationSql = (email: string) => confirmRegistration(sql, email);

export async function registerConfirmedWith<P>(
  calls: RegisterCalls<P>,
  db: Executor,
  input: RegisterInput,
): Promise<P> {
  await calls.register(input);
  await db.execute(confirmRegistrationSql(input.email));
  return calls.login({ email: input.email, password: input.password });
}
