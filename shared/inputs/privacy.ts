// privacy.* inputs.
import { z } from 'zod';
import { noticeVersionInput } from './auth.ts';
import { paginationInput, text } from './common.ts';

export const acceptNoticeInput = z.strictObject({ version: noticeVersionInput });
export type TAcceptNoticeInput = z.infer<typeof acceptNoticeInput>;

/** The password is re-entered: a stolen access token alone cannot erase an account. */
export const deleteAccountInput = z.strictObject({ password: text().min(1).max(128) });
export type TDeleteAccountInput = z.infer<typeof deleteAccountInput>;

/** privacy.accessLog: keyset pages, newest first. */
export const accessLogInput = z.strictObject({ ...paginationInput }).prefault({});
export type TAccessLogInput = z.infer<typeof accessLogInput>;
