// admin.audit.list wired to its use case (server/domain/admin-audit.ts).

import { adminAuditContract as c } from '../../../shared/contracts/admin/audit.ts';
import { listAudit } from '../../domain/admin-audit.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

export const adminAuditRouter = router({
  list: protectedProcedure
    .meta(c.list.meta)
    .input(c.list.input)
    .output(c.list.output)
    .query(({ ctx, input }) => listAudit(ctx.deps.readDb, input)),
});
