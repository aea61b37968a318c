// admin.audit.* procedures (API.md).
import { router } from '../../trpc/init.ts';

export const adminAuditRouter = router({});
