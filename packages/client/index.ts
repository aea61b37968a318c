// The entry of @manas360/api-client (built by `npm run build:client` into dist/): the
// router's types for @trpc/client, the catalog, the error reasons, the audit actions, and
// the input schemas (zod) the server validates with, so a client checks a form with the
// same rules before sending it, and the output schemas of the procedures served over REST.
export * from '../../shared/audit.ts';
export * from '../../shared/catalog.ts';
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
export * from '../../shared/outputs.ts';
