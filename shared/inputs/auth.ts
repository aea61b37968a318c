// auth.* inputs (docs/api.md). Lengths are checked here, before anything is hashed: a 1 MB
// password is a 400, never an scrypt call.
import { z } from 'zod';
import { text } from './common.ts';

/** Trimmed and lower-cased, so "A@x.io " and "a@x.io" are the same account. */
export const emailInput = text().trim().toLowerCase().max(254).pipe(z.email());
/** 8–128 characters (NIST 800-63B: long passphrases allowed, no composition rules). */
export const passwordInput = text().min(8).max(128);
/** An opaque refresh token: 32 random bytes in base64url (43 characters). */
export const refreshTokenInput = z
  .string()
  .min(20)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/);

/** A privacy notice version, as `privacy.notice` returns it. */
export const noticeVersionInput = z.string().regex(/^[A-Za-z0-9._-]{1,40}$/);

export const registerInput = z.strictObject({
  email: emailInput,
  password: passwordInput,
  name: text().trim().min(1).max(100),
  /** Required: the version of the privacy notice the user accepted (must be the current one). */
  acceptPrivacyNotice: noticeVersionInput,
});
export type RegisterInput = z.infer<typeof registerInput>;

export const loginInput = z.strictObject({
  email: emailInput,
  // Any length up to the maximum is checked against the hash; a too-long one never is.
  password: text().min(1).max(128),
});
export type LoginInput = z.infer<typeof loginInput>;

export const refreshInput = z.strictObject({ refreshToken: refreshTokenInput });
export type RefreshInput = z.infer<typeof refreshInput>;

export const logoutInput = refreshInput;

export const changePasswordInput = z
  .strictObject({ currentPassword: text().min(1).max(128), newPassword: passwordInput })
  .refine((v) => v.currentPassword !== v.newPassword, {
    message: 'The new password must differ from the current one',
    path: ['newPassword'],
  });
export type ChangePasswordInput = z.infer<typeof changePasswordInput>;

/** A token from an email link (password reset, address confirmation): 32 random bytes, base64url. */
export const emailTokenInput = z
  .string()
  .min(20)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/);

export const requestPasswordResetInput = z.strictObject({ email: emailInput });
export type RequestPasswordResetInput = z.infer<typeof requestPasswordResetInput>;

export const resetPasswordInput = z.strictObject({ token: emailTokenInput, newPassword: passwordInput });
export type ResetPasswordInput = z.infer<typeof resetPasswordInput>;

export const verifyEmailInput = z.strictObject({ token: emailTokenInput });
export type VerifyEmailInput = z.infer<typeof verifyEmailInput>;

/** auth.resendConfirmation: a new confirmation link for a registration not yet confirmed. */
export const resendConfirmationInput = z.strictObject({ email: emailInput });
export type ResendConfirmationInput = z.infer<typeof resendConfirmationInput>;

/** users.changeEmail: the password again, and the new address (confirmed before it takes effect). */
export const changeEmailInput = z.strictObject({
  password: text().min(1).max(128),
  newEmail: emailInput,
});
export type ChangeEmailInput = z.infer<typeof changeEmailInput>;
