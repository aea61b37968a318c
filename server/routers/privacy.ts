// privacy.*: the privacy notice and its acceptance, and account erasure (DPDPA 2023). The
// use cases live in server/domain/privacy.ts. All are callable before consent.
import { acceptNoticeInput, accessLogInput, deleteAccountInput } from '../../shared/inputs/privacy.ts';
import { acceptNoticeOutput, noticeOutput } from '../../shared/outputs.ts';
import {
  acceptNotice,
  accessLog,
  cancelDeletion,
  privacyStatus,
  requestDeletion,
} from '../domain/privacy.ts';
import { protectedProcedure, publicProcedure, router } from '../trpc/init.ts';

const beforeConsent = protectedProcedure.meta({ auth: 'user', beforeConsent: true });
/** Also open to a session still without the second factor its role needs (the console asks for the notice first). */
const beforeFactor = protectedProcedure.meta({ auth: 'user', beforeConsent: true, beforeFactor: true });

export const privacyRouter = router({
  /** The notice version a user must accept (registration and acceptNotice take it). 0 queries. */
  notice: publicProcedure
    .meta({
      auth: 'public',
      openapi: {
        summary: 'The privacy notice version to accept',
      },
    })
    .output(noticeOutput)
    .query(({ ctx }) => ({ version: ctx.deps.config.PRIVACY_NOTICE_VERSION })),

  /** The notice accepted and any scheduled erasure. */
  status: beforeFactor.query(({ ctx }) => privacyStatus(ctx.deps.db, ctx.deps.config, ctx.auth.sub)),

  /** Accepts the current notice; returns an access token that carries the acceptance. */
  acceptNotice: beforeFactor
    .meta({
      auth: 'user',
      openapi: {
        summary: 'Accept the current privacy notice: a new access token',
      },
    })
    .input(acceptNoticeInput)
    .output(acceptNoticeOutput)
    .mutation(({ ctx, input }) => acceptNotice(ctx.deps, ctx.auth, input.version, ctx.req.ip)),

  /** Schedules the erasure of the caller's account after the grace period. */
  deleteAccount: beforeConsent.input(deleteAccountInput).mutation(({ ctx, input }) =>
    requestDeletion(ctx.deps, ctx.auth.sub, input.password, {
      ip: ctx.req.ip,
      userAgent: ctx.req.userAgent,
    }),
  ),

  /**
   * Who read the caller's health data, newest first (the audited reads). A right, not a
   * paid feature: no permission or feature, callable before consent like the rest.
   */
  accessLog: beforeConsent
    .input(accessLogInput)
    .query(({ ctx, input }) => accessLog(ctx.deps.readDb, ctx.auth.sub, input)),

  /** Cancels a scheduled erasure while the grace period runs. */
  cancelDeletion: beforeConsent.mutation(({ ctx }) => cancelDeletion(ctx.deps, ctx.auth.sub, ctx.req.ip)),
});
