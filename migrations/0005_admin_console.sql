-- The admin console (issue 13).
-- pg_trgm: admin.users.list searches any part of an email or name (GIN indexes in the next migration).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
-- Audit actions are named like the procedures that do them (shared/audit.ts).
UPDATE audit_log SET action = CASE action
    WHEN 'admin.users.set_role' THEN 'admin.users.setRole'
    WHEN 'admin.users.set_plan' THEN 'admin.users.setPlan'
    WHEN 'admin.users.revoke_sessions' THEN 'admin.users.revokeSessions'
    WHEN 'admin.bootstrap_superadmin' THEN 'admin.bootstrapSuperadmin'
    WHEN 'auth.logout_all' THEN 'auth.logoutAll'
    WHEN 'auth.login_failed' THEN 'auth.loginFailed'
    WHEN 'auth.refresh_reuse' THEN 'auth.refreshReuse'
    WHEN 'auth.password_changed' THEN 'auth.changePassword'
    WHEN 'auth.password_change_failed' THEN 'auth.changePasswordFailed'
  END
WHERE action IN ('admin.users.set_role', 'admin.users.set_plan', 'admin.users.revoke_sessions',
                 'admin.bootstrap_superadmin', 'auth.logout_all', 'auth.login_failed', 'auth.refresh_reuse',
                 'auth.password_changed', 'auth.password_change_failed');
