// users.*: the caller's own profile, wired to its use cases (server/domain/users.ts). The
// therapist directory fields need `sessions.manage`: a field permission in .meta().
import { usersContract as c } from '../../shared/contracts/users.ts';
import { changeEmail } from '../domain/account-email.ts';
import { getProfile, updateProfile } from '../domain/users.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const usersRouter = router({
  profile: protectedProcedure
    .meta(c.profile.meta)
    .output(c.profile.output)
    .query(({ ctx }) => getProfile(ctx.deps.db, ctx.auth.sub)),

  updateProfile: protectedProcedure
    .meta(c.updateProfile.meta)
    .input(c.updateProfile.input)
    .output(c.updateProfile.output)
    .mutation(({ ctx, input }) => updateProfile(ctx.deps.db, ctx.auth.sub, input)),
  /**
   * The password again and a new address: a confirmation link goes to it (the change takes
   * effect when it is followed: auth.verifyEmail) and a notice to the current one.
   */
  changeEmail: protectedProcedure
    .meta(c.changeEmail.meta)
    .input(c.changeEmail.input)
    .output(c.changeEmail.output)
    .mutation(({ ctx, input }) =>
      changeEmail(ctx.deps, ctx.auth.sub, input, { ip: ctx.req.ip, userAgent: ctx.req.userAgent }),
    ),
});
