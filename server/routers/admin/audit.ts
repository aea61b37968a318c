// admin.audit.list wired to its use case (server/domain/admin-audit.ts).
import { auditListInput } from '../../../shared/inputs/admin.ts';
import { listAudit } from '../../domain/admin-audit.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

export const adminAuditRouter = router({
  list: protectedProcedure
    .meta({ auth: 'user', permission: 'audit.read' })
    .input(auditListInput)
    .query(({ ctx, input }) => listAudit(ctx.deps.readDb, input)),
});
