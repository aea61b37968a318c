// auth.* procedures: register, login, refresh, logout, logoutAll, me, changePassword.
import { protectedProcedure, router } from '../trpc/init.ts';

export const authRouter = router({
  /** Who the caller is, from the verified token alone: zero database queries. */
  me: protectedProcedure.query(({ ctx }) => {
    const a = ctx.auth;
    return {
      id: a.sub,
      email: a.email,
      role: a.role,
      privilegeLevel: a.privilegeLevel,
      permissions: a.permissions,
      features: a.features,
      plan: a.plan,
      sessionId: a.sid,
      expiresAt: new Date(a.exp * 1000),
    };
  }),
});
