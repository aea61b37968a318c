// users.*: the caller's own profile, wired to its use cases (server/domain/users.ts). The
// therapist directory fields need `sessions.manage`: a field permission in .meta().
import { changeEmailInput } from '../../shared/inputs/auth.ts';
import { THERAPIST_PROFILE_FIELDS, updateProfileInput } from '../../shared/inputs/users.ts';
import { okOutput, profileOutput } from '../../shared/outputs.ts';
import { changeEmail } from '../domain/account-email.ts';
import { getProfile, updateProfile } from '../domain/users.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const usersRouter = router({
  profile: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'profile.read',
      openapi: { summary: "The caller's profile" },
    })
    .output(profileOutput)
    .query(({ ctx }) => getProfile(ctx.deps.db, ctx.auth.sub)),

  updateProfile: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'profile.update',
      // The directory fields describe a clinician: whoever sets them must manage sessions.
      fieldPermissions: { 'sessions.manage': THERAPIST_PROFILE_FIELDS },
      openapi: {
        summary: "Change the caller's profile",
      },
    })
    .input(updateProfileInput)
    .output(profileOutput)
    .mutation(({ ctx, input }) => updateProfile(ctx.deps.db, ctx.auth.sub, input)),
  /**
   * The password again and a new address: a confirmation link goes to it (the change takes
   * effect when it is followed: auth.verifyEmail) and a notice to the current one.
   */
  changeEmail: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'profile.update',
      openapi: {
        summary: 'Change the address (confirmed first)',
      },
    })
    .input(changeEmailInput)
    .output(okOutput)
    .mutation(({ ctx, input }) =>
      changeEmail(ctx.deps, ctx.auth.sub, input, { ip: ctx.req.ip, userAgent: ctx.req.userAgent }),
    ),
});
