// admin.*: what the admin dashboard calls.
import { router } from '../../trpc/init.ts';
import { adminAuditRouter } from './audit.ts';
import { adminJobsRouter } from './jobs.ts';
import { adminUsersRouter } from './users.ts';
import { adminViewsRouter } from './views.ts';

export const adminRouter = router({
  users: adminUsersRouter,
  views: adminViewsRouter,
  audit: adminAuditRouter,
  jobs: adminJobsRouter,
});
