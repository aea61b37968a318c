// export.mine: the caller's complete data as one JSON document, in chunks (an async
// generator): download it from GET /export (server/http/downloads.ts) or read the chunks
// with httpBatchStreamLink. One export per user per hour.
import { exportContract as c } from '../../shared/contracts/export.ts';
import { exportMine } from '../domain/export.ts';
import { edgeStream } from '../trpc/errors.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const exportRouter = router({
  mine: protectedProcedure
    .meta(c.mine.meta)
    .input(c.mine.input)
    .output(c.mine.output)
    .query(({ ctx }) =>
      edgeStream(
        exportMine(
          { db: ctx.deps.db, notes: ctx.deps.notes, quota: ctx.deps.quotas.export },
          { id: ctx.auth.sub, ip: ctx.req.ip, requestId: ctx.req.requestId },
        ),
      ),
    ),
});
