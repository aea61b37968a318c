// auth.mfa.*, auth.sessions and auth.revokeSession inputs (docs/api.md, "Second factors").
// Every string is bounded before anything is verified.
import { z } from 'zod';
import { idInput, text } from './common.ts';

/** A ceremony or challenge token (a JWT of a few hundred bytes). */
const ceremonyToken = text().min(20).max(4096);
const b64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/);

/** A factor's display name ("Work laptop", "Authenticator app"). */
export const factorNameInput = text().trim().min(1).max(60);

/** A 6-digit TOTP code. */
export const totpCodeInput = z.string().regex(/^\d{6}$/, 'must be 6 digits');
/** A recovery code as shown (XXXX-XXXX-XXXX-XXXX; case, spaces and dashes ignored). */
export const recoveryCodeInput = z
  .string()
  .max(40)
  .regex(/^[A-Za-z0-9\s-]+$/);

/** navigator.credentials.create()'s result as @simplewebauthn/browser returns it (JSON). */
export const passkeyRegistrationInput = z.object({
  id: b64url(1024),
  rawId: b64url(1024),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url(4096),
    attestationObject: b64url(16_384),
    transports: z.array(text().max(20)).max(10).optional(),
    authenticatorData: b64url(16_384).optional(),
    publicKey: b64url(4096).optional(),
    publicKeyAlgorithm: z.number().int().optional(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
});

/** navigator.credentials.get()'s result as @simplewebauthn/browser returns it (JSON). */
export const passkeyAssertionInput = z.object({
  id: b64url(1024),
  rawId: b64url(1024),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url(4096),
    authenticatorData: b64url(16_384),
    signature: b64url(2048),
    userHandle: b64url(256).optional(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
});

/** A factor presented to sign in or step up. A passkey comes with its ceremony's token. */
export const factorProofInput = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('totp'), code: totpCodeInput }),
  z.strictObject({ kind: z.literal('recovery'), code: recoveryCodeInput }),
  z.strictObject({ kind: z.literal('passkey'), response: passkeyAssertionInput }),
]);
export type FactorProofInput = z.infer<typeof factorProofInput>;

export const completeLoginInput = z.strictObject({ challengeToken: ceremonyToken, factor: factorProofInput });
export type CompleteLoginInput = z.infer<typeof completeLoginInput>;

export const loginOptionsInput = z.strictObject({ challengeToken: ceremonyToken });

/** Step-up: a passkey needs `ceremonyToken` from auth.mfa.verifyOptions. */
export const verifyFactorInput = z.strictObject({
  factor: factorProofInput,
  ceremonyToken: ceremonyToken.optional(),
});
export type VerifyFactorInput = z.infer<typeof verifyFactorInput>;

export const confirmTotpInput = z.strictObject({
  enrolmentToken: ceremonyToken,
  code: totpCodeInput,
  name: factorNameInput.default('Authenticator app'),
});
export type ConfirmTotpInput = z.infer<typeof confirmTotpInput>;

export const confirmPasskeyInput = z.strictObject({
  enrolmentToken: ceremonyToken,
  response: passkeyRegistrationInput,
  name: factorNameInput.default('Passkey'),
});
export type ConfirmPasskeyInput = z.infer<typeof confirmPasskeyInput>;

export const renameFactorInput = z.strictObject({ factorId: idInput, name: factorNameInput });
export const removeFactorInput = z.strictObject({ factorId: idInput });
export const revokeSessionInput = z.strictObject({ sessionId: idInput });
