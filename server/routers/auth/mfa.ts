// auth.mfa.*: second factors (server/domain/mfa.ts; docs/decisions/staff-mfa.md), wired to
// their contracts (shared/contracts/auth/mfa.ts: who may call each, and when).
import { mfaContract as c } from '../../../shared/contracts/auth/mfa.ts';
import * as mfa from '../../domain/mfa.ts';
import { protectedProcedure, publicProcedure, router } from '../../trpc/init.ts';
import { client } from '../auth.ts';

export const mfaRouter = router({
  /** Sign-in step 2: the challenge token of auth.login's mfa_required and a factor → the pair. */
  completeLogin: publicProcedure
    .meta(c.completeLogin.meta)
    .input(c.completeLogin.input)
    .output(c.completeLogin.output)
    .mutation(({ ctx, input }) => mfa.completeLogin(ctx.deps, input, client(ctx))),

  /** The passkey request options of a sign-in challenge (navigator.credentials.get). */
  loginOptions: publicProcedure
    .meta(c.loginOptions.meta)
    .input(c.loginOptions.input)
    .output(c.loginOptions.output)
    .mutation(({ ctx, input }) => mfa.loginOptions(ctx.deps, input.challengeToken)),

  /** The caller's factors and unused recovery codes. */
  factors: protectedProcedure
    .meta(c.factors.meta)
    .output(c.factors.output)
    .query(({ ctx }) => mfa.listFactors(ctx.deps.db, ctx.auth.sub)),

  /** Step-up: a factor verified again → a new access token (amr, auth_time now). */
  verify: protectedProcedure
    .meta(c.verify.meta)
    .input(c.verify.input)
    .output(c.verify.output)
    .mutation(({ ctx, input }) => mfa.verifyFactor(ctx.deps, ctx.auth, input, client(ctx))),

  /** A passkey step-up's ceremony token and request options. */
  verifyOptions: protectedProcedure
    .meta(c.verifyOptions.meta)
    .output(c.verifyOptions.output)
    .mutation(({ ctx }) => mfa.verifyOptions(ctx.deps, ctx.auth)),

  totp: router({
    /** A new secret and its otpauth:// URI (the QR code), with the token confirm takes. */
    begin: protectedProcedure
      .meta(c.totp.begin.meta)
      .output(c.totp.begin.output)
      .mutation(({ ctx }) => mfa.beginTotp(ctx.deps, ctx.auth)),
    /** The first code from the app: the factor is stored (the first one brings recovery codes). */
    confirm: protectedProcedure
      .meta(c.totp.confirm.meta)
      .input(c.totp.confirm.input)
      .output(c.totp.confirm.output)
      .mutation(({ ctx, input }) => mfa.confirmTotp(ctx.deps, ctx.auth, input, client(ctx))),
  }),

  passkey: router({
    /** Registration options (navigator.credentials.create) and the token confirm takes. */
    begin: protectedProcedure
      .meta(c.passkey.begin.meta)
      .output(c.passkey.begin.output)
      .mutation(({ ctx }) => mfa.beginPasskey(ctx.deps, ctx.auth)),
    /** The authenticator's response: the passkey is stored. */
    confirm: protectedProcedure
      .meta(c.passkey.confirm.meta)
      .input(c.passkey.confirm.input)
      .output(c.passkey.confirm.output)
      .mutation(({ ctx, input }) => mfa.confirmPasskey(ctx.deps, ctx.auth, input, client(ctx))),
  }),

  rename: protectedProcedure
    .meta(c.rename.meta)
    .input(c.rename.input)
    .output(c.rename.output)
    .mutation(({ ctx, input }) => mfa.renameFactor(ctx.deps.db, ctx.auth.sub, input, client(ctx))),

  /** Refused for the last factor of a role that needs one. */
  remove: protectedProcedure
    .meta(c.remove.meta)
    .input(c.remove.input)
    .output(c.remove.output)
    .mutation(({ ctx, input }) => mfa.removeFactor(ctx.deps.db, ctx.auth, input.factorId, client(ctx))),

  /** Ten new recovery codes (shown once); the old ones stop working. */
  recoveryCodes: protectedProcedure
    .meta(c.recoveryCodes.meta)
    .output(c.recoveryCodes.output)
    .mutation(({ ctx }) => mfa.regenerateRecoveryCodes(ctx.deps.db, ctx.auth.sub, client(ctx))),
});
