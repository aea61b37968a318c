// The application router: one entry per area, so a procedure's path names its file
// (admin.users.list → server/routers/admin/users.ts).
import { router } from '../trpc/init.ts';
import { subscriptionsRouter } from './subscriptions.ts';

export const appRouter = router({
  subscriptions: subscriptionsRouter,
});

export type AppRouter = typeof appRouter;
