// How tests sign in to accounts that need a second factor, without weakening the rule: the
// password; for an account with a factor, the challenge completed with the passkey enrolled
// earlier; for a staff account without one, a passkey enrolled first (a software
// authenticator, test/support/passkey.ts, checked by the server's real WebAuthn code). One
// flow for both kinds of client (the HTTP client in test/server.ts, the in-process caller
// in test/helpers.ts), each passing its calls in.
import { needsSecondFactor } from '../../server/auth/factor-policy.ts';
import type { AppErrorData } from '../../shared/errors.ts';
import { SoftPasskey } from './passkey.ts';

interface Pair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  user: { permissions: string[] };
}

export interface SignInCalls<P extends Pair> {
  login(credentials: { email: string; password: string }): Promise<P>;
  /** error.data of a failed call (reason, challengeToken). */
  errorData(err: unknown): AppErrorData | undefined;
  loginOptions(challengeToken: string): Promise<{ challenge: string }>;
  completeLogin(challengeToken: string, response: ReturnType<SoftPasskey['assert']>): Promise<P>;
  /** Enrols the passkey with this session's access token; the upgraded access token. */
  enrol(accessToken: string, passkey: SoftPasskey): Promise<string>;
}

export async function signInWith<P extends Pair>(
  calls: SignInCalls<P>,
  passkeys: Map<string, SoftPasskey>,
  credentials: { email: string; password: string },
): Promise<P> {
  const key = credentials.email.trim().toLowerCase();
  let login: P;
  try {
    login = await calls.login(credentials);
  } catch (err) {
    const data = calls.errorData(err);
    if (data?.reason !== 'mfa_required' || !data.challengeToken) throw err;
    const passkey = passkeys.get(key);
    if (!passkey) throw new Error(`${credentials.email} has a second factor this helper did not enrol`);
    const options = await calls.loginOptions(data.challengeToken);
    return calls.completeLogin(data.challengeToken, passkey.assert(options));
  }
  if (!needsSecondFactor(login.user.permissions)) return login;
  const passkey = new SoftPasskey();
  const accessToken = await calls.enrol(login.accessToken, passkey);
  passkeys.set(key, passkey);
  return { ...login, accessToken };
}
