// apiKeys.* and auth.exchangeApiKey inputs (docs/api.md).
import { z } from 'zod';
import { PERMISSIONS } from '../catalog.ts';
import { idInput, text } from './common.ts';

/** `m360_<8-character prefix>_<43-character secret>`. */
export const API_KEY_PATTERN = /^m360_[a-z2-7]{8}_[A-Za-z0-9_-]{43}$/;
export const API_KEY_MAX_DAYS = 365;
/** Live (unrevoked, unexpired) keys one user may hold. */
export const API_KEY_LIMIT = 10;

export const createApiKeyInput = z.strictObject({
  name: text().trim().min(1).max(100),
  /** Permissions the key's tokens carry: at most the owner's own; never api_keys.manage. */
  scopes: z
    .array(z.enum(PERMISSIONS).refine((p) => p !== 'api_keys.manage', 'a key cannot manage keys'))
    .min(1)
    .max(PERMISSIONS.length)
    .transform((v) => [...new Set(v)].sort()),
  expiresInDays: z.number().int().min(1).max(API_KEY_MAX_DAYS).default(90),
});

export const revokeApiKeyInput = z.strictObject({ keyId: idInput });

export const exchangeApiKeyInput = z.strictObject({ apiKey: z.string().regex(API_KEY_PATTERN) });
