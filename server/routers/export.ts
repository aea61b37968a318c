// export.mine: the caller's complete data as one JSON document, in chunks (an async
// generator): download it from GET /export (server/http/downloads.ts) or read the chunks
// with httpBatchStreamLink. One export per user per hour.
import { exportInput } from '../../shared/inputs/export.ts';
import { exportMine } from '../domain/export.ts';
import { edgeStream } from '../trpc/errors.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const exportRouter = router({
  mine: protectedProcedure
    .meta({ auth: 'user', permission: 'data.export', feature: 'data_export', verifiedEmail: true })
    .input(exportInput)
    .query(({ ctx }) =>
      edgeStream(
        exportMine(
          { db: ctx.deps.db, notes: ctx.deps.notes, quota: ctx.deps.quotas.export },
          { id: ctx.auth.sub, ip: ctx.req.ip, requestId: ctx.req.requestId },
        ),
      ),
    ),
});
