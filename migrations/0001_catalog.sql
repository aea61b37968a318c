-- The access catalog from API.md: roles, permissions, plans, features and their links.
-- Seeded by a migration so every fresh database has it. Idempotent (ON CONFLICT DO NOTHING).
INSERT INTO roles (name, privilege_level) VALUES
  ('patient', 10), ('therapist', 40), ('admin', 90), ('superadmin', 100)
ON CONFLICT (name) DO NOTHING;
--> statement-breakpoint
INSERT INTO permissions (name) VALUES
  ('profile.read'), ('profile.update'), ('mood.write'), ('mood.read'),
  ('assessments.submit'), ('assessments.read'), ('sessions.book'), ('sessions.read'),
  ('sessions.manage'), ('notes.write'), ('notes.read'), ('crisis.manage'),
  ('users.read'), ('users.manage'), ('roles.assign'), ('roles.manage'),
  ('subscriptions.manage'), ('analytics.read'), ('audit.read'), ('views.refresh')
ON CONFLICT (name) DO NOTHING;
--> statement-breakpoint
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id
FROM (VALUES
  ('patient', ARRAY['profile.read', 'profile.update', 'mood.write', 'mood.read', 'assessments.submit',
                    'assessments.read', 'sessions.book', 'sessions.read']),
  ('therapist', ARRAY['profile.read', 'profile.update', 'sessions.read', 'sessions.manage', 'notes.write',
                      'notes.read', 'crisis.manage']),
  ('admin', ARRAY['profile.read', 'profile.update', 'sessions.read', 'crisis.manage', 'users.read',
                  'users.manage', 'roles.assign', 'subscriptions.manage', 'analytics.read', 'audit.read',
                  'views.refresh'])
) AS grants(role_name, perms)
JOIN roles r ON r.name = grants.role_name
JOIN permissions p ON p.name = ANY (grants.perms)
UNION ALL
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p WHERE r.name = 'superadmin'
ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO features (code, name) VALUES
  ('mood_tracking', 'Mood tracking'), ('assessments', 'Clinical screenings'),
  ('therapist_booking', 'Therapist booking'), ('data_export', 'Data export'),
  ('premium_dashboard', 'Premium dashboard'), ('priority_support', 'Priority support'),
  ('api_access', 'API access'), ('advanced_reporting', 'Advanced reporting')
ON CONFLICT (code) DO NOTHING;
--> statement-breakpoint
INSERT INTO plans (code, name, price_paise, tier) VALUES
  ('free', 'Free', 0, 0), ('basic', 'Basic', 49900, 1),
  ('premium', 'Premium', 149900, 2), ('enterprise', 'Enterprise', 499900, 3)
ON CONFLICT (code) DO NOTHING;
--> statement-breakpoint
-- A plan has the features introduced at its tier and every lower tier.
INSERT INTO plan_features (plan_id, feature_id)
SELECT p.id, f.id
FROM (VALUES
  ('mood_tracking', 0), ('assessments', 0), ('therapist_booking', 1), ('data_export', 1),
  ('premium_dashboard', 2), ('priority_support', 2), ('api_access', 3), ('advanced_reporting', 3)
) AS intro(feature_code, tier)
JOIN features f ON f.code = intro.feature_code
JOIN plans p ON p.tier >= intro.tier
ON CONFLICT DO NOTHING;
