// apiKeys.*: personal API keys (api_access). auth.exchangeApiKey (server/routers/auth.ts)
// turns a key into an access token.
import { createApiKeyInput, revokeApiKeyInput } from '../../shared/inputs/api-keys.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../domain/api-keys.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

const manage = protectedProcedure.meta({
  auth: 'user',
  permission: 'api_keys.manage',
  feature: 'api_access',
});

export const apiKeysRouter = router({
  /** The key is in this response only. */
  create: manage
    .meta({ auth: 'user', verifiedEmail: true, stepUp: true })
    .input(createApiKeyInput)
    .mutation(({ ctx, input }) => createApiKey(ctx.deps.db, ctx.auth, ctx.req.ip, input)),
  list: manage.query(({ ctx }) => listApiKeys(ctx.deps.db, ctx.auth.sub)),
  revoke: manage
    .input(revokeApiKeyInput)
    .mutation(({ ctx, input }) => revokeApiKey(ctx.deps, ctx.auth.sub, ctx.req.ip, input.keyId)),
});
