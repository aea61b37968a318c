// Every action the audit log records, named like the procedure that does it
// (admin.users.setRole); events that are not procedures of their own are named in the
// same style (auth.loginFailed). admin.audit.list filters by these; the console lists them.
export const AUDIT_ACTIONS = [
  'auth.register',
  'auth.login',
  'auth.loginFailed',
  'auth.refreshReuse',
  'auth.logout',
  'auth.logoutAll',
  'auth.changePassword',
  'auth.changePasswordFailed',
  'admin.bootstrapSuperadmin',
  'admin.users.setRole',
  'admin.users.setPlan',
  'admin.users.suspend',
  'admin.users.unsuspend',
  'admin.users.revokeSessions',
  'admin.views.refresh',
  'crisis.acknowledge',
  'subscriptions.checkout',
  'subscriptions.cancel',
  'subscriptions.expired',
  'subscriptions.paymentApplied',
  'subscriptions.paymentFailed',
  'subscriptions.paymentUnapplied',
  'privacy.acceptNotice',
  'privacy.deleteAccount',
  'privacy.deleteAccountFailed',
  'privacy.cancelDeletion',
  'privacy.accountErased',
  // Written by the database when a user row is deleted by SQL (migration 0004).
  'user.deleted',
  'user.softDeleted',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
