// apiKeys.* (server/routers/api-keys.ts): personal API keys (api_access). auth.exchangeApiKey
// (./auth.ts) turns a key into an access token.
import { z } from 'zod';
import type { Contracts, Meta } from '../contract.ts';
import { createApiKeyInput, revokeApiKeyInput } from '../inputs/api-keys.ts';
import { date, okOutput } from './common.ts';

const apiKey = z.object({
  id: z.string(),
  name: z.string(),
  /** The key's first characters, to recognise it. */
  prefix: z.string(),
  scopes: z.array(z.string()),
  createdAt: date,
  expiresAt: date,
  lastUsedAt: date.nullable(),
  revokedAt: date.nullable(),
});

const manage = (summary: string): Meta => ({
  auth: 'user',
  permission: 'api_keys.manage',
  feature: 'api_access',
  openapi: { summary },
});

export const apiKeysContract = {
  create: {
    meta: { ...manage('Create a key (shown in this answer only)'), verifiedEmail: true, stepUp: true },
    input: createApiKeyInput,
    output: apiKey.extend({ /** The key itself: in this answer only. */ key: z.string() }),
  },
  list: { meta: manage("The caller's keys"), output: z.array(apiKey) },
  revoke: {
    meta: manage('Revoke a key (its tokens stop working)'),
    input: revokeApiKeyInput,
    output: okOutput,
  },
} satisfies Contracts;
