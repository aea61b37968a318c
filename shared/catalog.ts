// The access catalog as types and constants, shared by the server and clients.
// The database holds the same catalog (seeded by migrations/0001_catalog.sql); a test
// checks that the two agree.

export const PERMISSIONS = [
  'profile.read',
  'profile.update',
  'mood.write',
  'mood.read',
  'assessments.submit',
  'assessments.read',
  'sessions.book',
  'sessions.read',
  'sessions.manage',
  'notes.write',
  'notes.read',
  'crisis.manage',
  'users.read',
  'users.manage',
  'roles.assign',
  'roles.manage',
  'subscriptions.manage',
  'analytics.read',
  'audit.read',
  'views.refresh',
  'data.export',
  'insights.read',
  'support.use',
  'support.manage',
  'api_keys.manage',
  'reports.read',
  'jobs.manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * Permissions that read health data or administer accounts: a token carrying any of them
 * is accepted only when its session was authenticated with a second factor (amr), except by
 * the procedures that set one up (docs/decisions/staff-mfa.md). Therapists, admins and
 * superadmins hold some; patients none.
 */
export const FACTOR_REQUIRED_PERMISSIONS: readonly Permission[] = [
  'sessions.manage',
  'notes.write',
  'notes.read',
  'crisis.manage',
  'users.read',
  'users.manage',
  'roles.assign',
  'roles.manage',
  'subscriptions.manage',
  'analytics.read',
  'audit.read',
  'views.refresh',
  'support.manage',
];

/**
 * A step-up (a factor verified again) lasts this long after the factor was verified (the
 * token's auth_time): the procedures marked stepUp, and the console's factor page, need one.
 */
export const STEP_UP_SECONDS = 15 * 60;

export const FEATURES = [
  'mood_tracking',
  'assessments',
  'therapist_booking',
  'data_export',
  'premium_dashboard',
  'priority_support',
  'api_access',
  'advanced_reporting',
] as const;
export type Feature = (typeof FEATURES)[number];

export const ROLES = { patient: 10, therapist: 40, admin: 90, superadmin: 100 } as const;
export type BuiltinRole = keyof typeof ROLES;

export const PLAN_CODES = ['free', 'basic', 'premium', 'enterprise'] as const;
export type PlanCode = (typeof PLAN_CODES)[number];

/** The role and plan of a newly registered user. */
/**
 * An account's status (users.status): 'pending' from auth.register until the address is
 * confirmed (auth.verifyEmail); it cannot sign in (docs/decisions/registration-privacy.md).
 */
export const USER_STATUSES = ['active', 'suspended', 'pending'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

export const DEFAULT_ROLE: BuiltinRole = 'patient';
export const DEFAULT_PLAN: PlanCode = 'free';
