// admin.audit.list wired to its use case (server/domain/admin-audit.ts).
import { ACCESS_ACTIONS } from '../../../shared/audit.ts';
import { auditListInput } from '../../../shared/inputs/admin.ts';
import { listAudit } from '../../domain/admin-audit.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

/**
 * The list may hold audited reads (who read whose health data): every input except one
 * filtered to a single action that is not an audited read (ACCESS_ACTIONS). Read from the
 * raw input, before it is parsed: anything unexpected counts as "may".
 */
function mayListReads(input: unknown): boolean {
  if (typeof input !== 'object' || input === null) return true;
  const { reads, action } = input as { reads?: unknown; action?: unknown };
  return reads === true || typeof action !== 'string' || Object.hasOwn(ACCESS_ACTIONS, action);
}

export const adminAuditRouter = router({
  list: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'audit.read',
      // Who read whose health data is itself sensitive: a fresh factor for those entries.
      stepUp: { when: 'unless filtered to one action that is not an audited read', test: mayListReads },
    })
    .input(auditListInput)
    .query(({ ctx, input }) => listAudit(ctx.deps.readDb, input)),
});
