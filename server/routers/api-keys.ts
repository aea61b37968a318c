// apiKeys.*: personal API keys (api_access). auth.exchangeApiKey (server/routers/auth.ts)
// turns a key into an access token.
import { apiKeysContract as c } from '../../shared/contracts/api-keys.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../domain/api-keys.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const apiKeysRouter = router({
  /** The key is in this response only. */
  create: protectedProcedure
    .meta(c.create.meta)
    .input(c.create.input)
    .output(c.create.output)
    .mutation(({ ctx, input }) => createApiKey(ctx.deps.db, ctx.auth, ctx.req.ip, input)),
  list: protectedProcedure
    .meta(c.list.meta)
    .output(c.list.output)
    .query(({ ctx }) => listApiKeys(ctx.deps.db, ctx.auth.sub)),
  revoke: protectedProcedure
    .meta(c.revoke.meta)
    .input(c.revoke.input)
    .output(c.revoke.output)
    .mutation(({ ctx, input }) => revokeApiKey(ctx.deps, ctx.auth.sub, ctx.req.ip, input.keyId)),
});
