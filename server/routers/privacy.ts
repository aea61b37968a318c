// privacy.*: the privacy notice and its acceptance, and account erasure (DPDPA 2023). The
// use cases live in server/domain/privacy.ts. All are callable before consent.
import { privacyContract as c } from '../../shared/contracts/privacy.ts';
import {
  acceptNotice,
  accessLog,
  cancelDeletion,
  privacyStatus,
  requestDeletion,
} from '../domain/privacy.ts';
import { protectedProcedure, publicProcedure, router } from '../trpc/init.ts';

export const privacyRouter = router({
  /** The notice version a user must accept (registration and acceptNotice take it). 0 queries. */
  notice: publicProcedure
    .meta(c.notice.meta)
    .output(c.notice.output)
    .query(({ ctx }) => ({ version: ctx.deps.config.PRIVACY_NOTICE_VERSION })),

  /** The notice accepted and any scheduled erasure. */
  status: protectedProcedure
    .meta(c.status.meta)
    .output(c.status.output)
    .query(({ ctx }) => privacyStatus(ctx.deps.db, ctx.deps.config, ctx.auth.sub)),

  /** Accepts the current notice; returns an access token that carries the acceptance. */
  acceptNotice: protectedProcedure
    .meta(c.acceptNotice.meta)
    .input(c.acceptNotice.input)
    .output(c.acceptNotice.output)
    .mutation(({ ctx, input }) => acceptNotice(ctx.deps, ctx.auth, input.version, ctx.req.ip)),

  /** Schedules the erasure of the caller's account after the grace period. */
  deleteAccount: protectedProcedure
    .meta(c.deleteAccount.meta)
    .input(c.deleteAccount.input)
    .output(c.deleteAccount.output)
    .mutation(({ ctx, input }) =>
      requestDeletion(ctx.deps, ctx.auth.sub, input.password, {
        ip: ctx.req.ip,
        userAgent: ctx.req.userAgent,
      }),
    ),

  /**
   * Who read the caller's health data, newest first (the audited reads). A right, not a
   * paid feature: no permission or feature, callable before consent like the rest.
   */
  accessLog: protectedProcedure
    .meta(c.accessLog.meta)
    .input(c.accessLog.input)
    .output(c.accessLog.output)
    .query(({ ctx, input }) => accessLog(ctx.deps.readDb, ctx.auth.sub, input)),

  /** Cancels a scheduled erasure while the grace period runs. */
  cancelDeletion: protectedProcedure
    .meta(c.cancelDeletion.meta)
    .output(c.cancelDeletion.output)
    .mutation(({ ctx }) => cancelDeletion(ctx.deps, ctx.auth.sub, ctx.req.ip)),
});
