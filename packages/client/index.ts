// The entry of @manas360/api-client (built by `npm run build:client` into dist/): the
// router's types for @trpc/client, the catalog, the error reasons, the audit actions, and
// each procedure's contract (shared/contracts/: its policy, input and output schemas), so a
// client checks a form with the same rules before sending it and knows every answer's shape.
export * from '../../shared/audit.ts';
export * from '../../shared/catalog.ts';
export * from '../../shared/contracts/admin/audit.ts';
export * from '../../shared/contracts/admin/jobs.ts';
export * from '../../shared/contracts/admin/users.ts';
export * from '../../shared/contracts/admin/views.ts';
export * from '../../shared/contracts/analytics.ts';
export * from '../../shared/contracts/api-keys.ts';
export * from '../../shared/contracts/assessments.ts';
export * from '../../shared/contracts/auth/mfa.ts';
export * from '../../shared/contracts/auth/sessions.ts';
export * from '../../shared/contracts/auth.ts';
export * from '../../shared/contracts/common.ts';
export * from '../../shared/contracts/crisis/index.ts';
export * from '../../shared/contracts/crisis/on-call.ts';
export * from '../../shared/contracts/export.ts';
export * from '../../shared/contracts/insights.ts';
export * from '../../shared/contracts/mood.ts';
export * from '../../shared/contracts/privacy.ts';
export * from '../../shared/contracts/reports.ts';
export * from '../../shared/contracts/subscriptions.ts';
export * from '../../shared/contracts/support.ts';
export * from '../../shared/contracts/therapists.ts';
export * from '../../shared/contracts/therapy.ts';
export * from '../../shared/contracts/users.ts';
export * from '../../shared/errors.ts';
export type {
  AppRouter,
  AuthResult,
  Checkout,
  Meta,
  RouterInputs,
  RouterOutputs,
  SessionRouter,
  SessionUser,
  TokenPair,
} from '../../shared/index.ts';
export * from '../../shared/inputs/admin.ts';
export * from '../../shared/inputs/admin-users.ts';
export * from '../../shared/inputs/analytics.ts';
export * from '../../shared/inputs/api-keys.ts';
export * from '../../shared/inputs/assessments.ts';
export * from '../../shared/inputs/auth.ts';
export * from '../../shared/inputs/common.ts';
export * from '../../shared/inputs/crisis.ts';
export * from '../../shared/inputs/export.ts';
export * from '../../shared/inputs/insights.ts';
export * from '../../shared/inputs/mood.ts';
export * from '../../shared/inputs/privacy.ts';
export * from '../../shared/inputs/reports.ts';
export * from '../../shared/inputs/subscriptions.ts';
export * from '../../shared/inputs/support.ts';
export * from '../../shared/inputs/therapy.ts';
export * from '../../shared/inputs/users.ts';
