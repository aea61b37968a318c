// auth.sessions and auth.revokeSession: the caller's live sessions (refresh-token families)
// and ending one of them (server/domain/mfa.ts).
import { sessionsContract as c } from '../../../shared/contracts/auth/sessions.ts';
import { listSessions, revokeSession } from '../../domain/mfa.ts';
import { protectedProcedure } from '../../trpc/init.ts';
import { client } from '../auth.ts';

export const sessionProcedures = {
  /** Live sessions, newest use first: device, IP, started, last used, how authenticated. */
  sessions: protectedProcedure
    .meta(c.sessions.meta)
    .output(c.sessions.output)
    .query(({ ctx }) => listSessions(ctx.deps.db, ctx.auth)),

  /** Ends one of the caller's sessions (its refresh and access tokens). */
  revokeSession: protectedProcedure
    .meta(c.revokeSession.meta)
    .input(c.revokeSession.input)
    .output(c.revokeSession.output)
    .mutation(({ ctx, input }) => revokeSession(ctx.deps, ctx.auth.sub, input.sessionId, client(ctx))),
};
