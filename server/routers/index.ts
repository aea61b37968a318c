// The application router: one entry per area, so a procedure's path names its file
// (admin.users.list → server/routers/admin/users.ts).
import { mergeRouters, router } from '../trpc/init.ts';
import { adminRouter } from './admin/index.ts';
import { analyticsRouter } from './analytics.ts';
import { apiKeysRouter } from './api-keys.ts';
import { assessmentsRouter } from './assessments.ts';
import { mfaRouter } from './auth/mfa.ts';
import { sessionProcedures } from './auth/sessions.ts';
import { authRouter } from './auth.ts';
import { crisisRouter } from './crisis/index.ts';
import { exportRouter } from './export.ts';
import { insightsRouter } from './insights.ts';
import { moodRouter } from './mood.ts';
import { privacyRouter } from './privacy.ts';
import { reportsRouter } from './reports.ts';
import { subscriptionsRouter } from './subscriptions.ts';
import { supportRouter } from './support.ts';
import { therapistsRouter } from './therapists.ts';
import { therapyRouter } from './therapy.ts';
import { usersRouter } from './users.ts';

export const appRouter = router({
  // auth.mfa.* and auth.sessions / auth.revokeSession live in server/routers/auth/.
  auth: mergeRouters(authRouter, router({ mfa: mfaRouter, ...sessionProcedures })),
  users: usersRouter,
  subscriptions: subscriptionsRouter,
  mood: moodRouter,
  assessments: assessmentsRouter,
  therapists: therapistsRouter,
  therapy: therapyRouter,
  crisis: crisisRouter,
  admin: adminRouter,
  analytics: analyticsRouter,
  export: exportRouter,
  insights: insightsRouter,
  support: supportRouter,
  apiKeys: apiKeysRouter,
  reports: reportsRouter,
  privacy: privacyRouter,
});

export type AppRouter = typeof appRouter;
