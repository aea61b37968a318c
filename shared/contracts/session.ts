// The admin console's cookie session (server/routers/session.ts, served at /auth/session/*,
// not under /trpc): auth.login, auth.mfa.* and auth.refresh as auth.* does them, with the
// refresh token in an HttpOnly cookie instead of the answer.
import { z } from 'zod';
import type { Contracts } from '../contract.ts';
import { loginInput } from '../inputs/auth.ts';
import { completeLoginInput, loginOptionsInput } from '../inputs/mfa.ts';
import { passkeyRequestOptionsOutput } from './auth/mfa.ts';
import { sessionUserOutput } from './auth.ts';
import { okOutput } from './common.ts';

/** A sign-in's answer without its refresh token (that is in the cookie). */
const signedIn = z.object({ accessToken: z.string(), expiresIn: z.number(), user: sessionUserOutput });

export const sessionContract = {
  login: { meta: { auth: 'public', rateLimit: 'login' }, input: loginInput, output: signedIn },
  completeLogin: {
    meta: { auth: 'public', rateLimit: 'login' },
    input: completeLoginInput,
    output: signedIn,
  },
  loginOptions: {
    meta: { auth: 'public', rateLimit: 'login' },
    input: loginOptionsInput,
    output: passkeyRequestOptionsOutput,
  },
  refresh: { meta: { auth: 'public' }, output: z.object({ accessToken: z.string(), expiresIn: z.number() }) },
  logout: { meta: { auth: 'public' }, output: okOutput },
} satisfies Contracts;
