// auth.mfa.*: second factors (server/domain/mfa.ts; docs/decisions/staff-mfa.md). The
// sign-in's second step is public (it takes the challenge token auth.login answered with);
// setting a factor up is open to a session without one (beforeFactor); changing or removing
// one needs a step-up.
import {
  completeLoginInput,
  confirmPasskeyInput,
  confirmTotpInput,
  loginOptionsInput,
  removeFactorInput,
  renameFactorInput,
  verifyFactorInput,
} from '../../../shared/inputs/mfa.ts';
import * as mfa from '../../domain/mfa.ts';
import { protectedProcedure, publicProcedure, router } from '../../trpc/init.ts';
import { client } from '../auth.ts';

/** Callable by any signed-in session, with or without a factor, before the notice too. */
const setup = protectedProcedure.meta({ auth: 'user', beforeConsent: true, beforeFactor: true });

export const mfaRouter = router({
  /** Sign-in step 2: the challenge token of auth.login's mfa_required and a factor → the pair. */
  completeLogin: publicProcedure
    .meta({ auth: 'public', rateLimit: 'login' })
    .input(completeLoginInput)
    .mutation(({ ctx, input }) => mfa.completeLogin(ctx.deps, input, client(ctx))),

  /** The passkey request options of a sign-in challenge (navigator.credentials.get). */
  loginOptions: publicProcedure
    .meta({ auth: 'public', rateLimit: 'login' })
    .input(loginOptionsInput)
    .mutation(({ ctx, input }) => mfa.loginOptions(ctx.deps, input.challengeToken)),

  /** The caller's factors and unused recovery codes. */
  factors: setup.query(({ ctx }) => mfa.listFactors(ctx.deps.db, ctx.auth.sub)),

  /** Step-up: a factor verified again → a new access token (amr, auth_time now). */
  verify: setup
    .meta({ auth: 'user', rateLimit: 'login' })
    .input(verifyFactorInput)
    .mutation(({ ctx, input }) => mfa.verifyFactor(ctx.deps, ctx.auth, input, client(ctx))),

  /** A passkey step-up's ceremony token and request options. */
  verifyOptions: setup.mutation(({ ctx }) => mfa.verifyOptions(ctx.deps, ctx.auth)),

  totp: router({
    /** A new secret and its otpauth:// URI (the QR code), with the token confirm takes. */
    begin: setup.mutation(({ ctx }) => mfa.beginTotp(ctx.deps, ctx.auth)),
    /** The first code from the app: the factor is stored (the first one brings recovery codes). */
    confirm: setup
      .input(confirmTotpInput)
      .mutation(({ ctx, input }) => mfa.confirmTotp(ctx.deps, ctx.auth, input, client(ctx))),
  }),

  passkey: router({
    /** Registration options (navigator.credentials.create) and the token confirm takes. */
    begin: setup.mutation(({ ctx }) => mfa.beginPasskey(ctx.deps, ctx.auth)),
    /** The authenticator's response: the passkey is stored. */
    confirm: setup
      .input(confirmPasskeyInput)
      .mutation(({ ctx, input }) => mfa.confirmPasskey(ctx.deps, ctx.auth, input, client(ctx))),
  }),

  rename: protectedProcedure
    .meta({ auth: 'user', stepUp: true })
    .input(renameFactorInput)
    .mutation(({ ctx, input }) => mfa.renameFactor(ctx.deps.db, ctx.auth.sub, input, client(ctx))),

  /** Refused for the last factor of a role that needs one. */
  remove: protectedProcedure
    .meta({ auth: 'user', stepUp: true })
    .input(removeFactorInput)
    .mutation(({ ctx, input }) => mfa.removeFactor(ctx.deps.db, ctx.auth, input.factorId, client(ctx))),

  /** Ten new recovery codes (shown once); the old ones stop working. */
  recoveryCodes: protectedProcedure
    .meta({ auth: 'user', stepUp: true })
    .mutation(({ ctx }) => mfa.regenerateRecoveryCodes(ctx.deps.db, ctx.auth.sub, client(ctx))),
});
