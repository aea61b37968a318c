// auth.sessions and auth.revokeSession (server/routers/auth/sessions.ts): the caller's live
// sessions (refresh-token families) and ending one of them.
import { z } from 'zod';
import type { Contracts } from '../../contract.ts';
import { revokeSessionInput } from '../../inputs/mfa.ts';
import { date, okOutput } from '../common.ts';

export const sessionsContract = {
  sessions: {
    meta: { auth: 'user', openapi: { summary: "The caller's live sessions, newest use first" } },
    output: z.array(
      z.object({
        id: z.string(),
        /** The session this call is made in. */
        current: z.boolean(),
        startedAt: date,
        lastUsedAt: date,
        ip: z.string().nullable(),
        userAgent: z.string().nullable(),
        /** How it was authenticated (RFC 8176 amr). */
        amr: z.array(z.string()),
        authTime: date,
      }),
    ),
  },
  revokeSession: {
    meta: { auth: 'user', openapi: { summary: "End one of the caller's sessions" } },
    input: revokeSessionInput,
    output: okOutput,
  },
} satisfies Contracts;
