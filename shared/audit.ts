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
  // Second factors (server/domain/mfa.ts): a factor added, renamed or removed, a failed
  // factor (sign-in or step-up), a step-up, new recovery codes, one session ended.
  'auth.mfa.enrol',
  'auth.mfa.rename',
  'auth.mfa.remove',
  'auth.mfa.failed',
  'auth.mfa.verify',
  'auth.mfa.recoveryCodes',
  'auth.revokeSession',
  'auth.passwordResetRequested',
  'auth.resetPassword',
  'auth.verifyEmail',
  'users.changeEmail',
  'users.changeEmailFailed',
  'users.emailChanged',
  'admin.bootstrapSuperadmin',
  'admin.users.setRole',
  'admin.users.setPlan',
  'admin.users.suspend',
  'admin.users.unsuspend',
  'admin.users.revokeSessions',
  'admin.views.refresh',
  'admin.jobs.redrive',
  'crisis.acknowledge',
  'crisis.onCall.set',
  // Written by the crisis duty check (server/domain/crisis-duty.ts), no actor.
  'crisis.notified',
  'crisis.escalated',
  'subscriptions.checkout',
  'subscriptions.cancel',
  'subscriptions.expired',
  'subscriptions.paymentApplied',
  'subscriptions.paymentFailed',
  'subscriptions.paymentUnapplied',
  'subscriptions.paymentRefunded',
  'subscriptions.paymentDisputed',
  'privacy.acceptNotice',
  'privacy.deleteAccount',
  'privacy.deleteAccountFailed',
  'privacy.cancelDeletion',
  'privacy.accountErased',
  'export.mine',
  'reports.mood',
  'reports.assessments',
  'reports.sessions',
  'support.create',
  'support.reply',
  'support.escalate',
  'support.setStatus',
  'apiKeys.create',
  'apiKeys.revoke',
  'auth.exchangeApiKey',
  // Written by the database when a user row is deleted by SQL (migration 0004).
  'user.deleted',
  'user.softDeleted',
  // Audited reads (below).
  'therapy.notes',
  'crisis.list',
  'admin.users.get',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * Audited reads: the procedures that show one person's health data to someone else write
 * an entry (actor, the person as target, ip, request id) in the statement that reads it,
 * one per person shown. The value is the kind of data disclosed, as privacy.accessLog
 * tells the person. docs/api.md marks these procedures "audited read".
 */
export const ACCESS_ACTIONS = {
  /** A therapist read the notes of a session with the patient. */
  'therapy.notes': 'session_notes',
  /** The crisis team saw the patient's alert with its screening result and contact details. */
  'crisis.list': 'crisis_alert',
  /** Staff opened the patient's account (profile, role, plan, status, last sign-in). */
  'admin.users.get': 'account',
  /**
   * The therapist downloaded their own export, which holds their sessions with the patient
   * and the text of the notes they wrote about them (their clinical record).
   */
  'export.mine': 'therapy_record',
} as const satisfies Partial<Record<AuditAction, string>>;
export type AccessAction = keyof typeof ACCESS_ACTIONS;
export type AccessKind = (typeof ACCESS_ACTIONS)[AccessAction];
