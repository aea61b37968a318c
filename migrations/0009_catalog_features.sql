-- Permissions of the paid features (issue 14) and their grants. Idempotent, like 0001.
--   data.export      export.mine: every role exports its own data (plan: data_export)
--   insights.read    insights.*: the patient's dashboard (plan: premium_dashboard)
--   support.use      support.create/listMine/thread/reply/escalate: every role
--   support.manage   support.queue/setStatus and staff replies: admins
--   api_keys.manage  apiKeys.*: patients and therapists (plan: api_access)
--   reports.read     reports.*: patients and therapists (plan: advanced_reporting)
INSERT INTO permissions (name) VALUES
  ('data.export'), ('insights.read'), ('support.use'), ('support.manage'), ('api_keys.manage'),
  ('reports.read')
ON CONFLICT (name) DO NOTHING;
--> statement-breakpoint
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id
FROM (VALUES
  ('patient', ARRAY['data.export', 'insights.read', 'support.use', 'api_keys.manage', 'reports.read']),
  ('therapist', ARRAY['data.export', 'support.use', 'api_keys.manage', 'reports.read']),
  ('admin', ARRAY['data.export', 'support.use', 'support.manage'])
) AS grants(role_name, perms)
JOIN roles r ON r.name = grants.role_name
JOIN permissions p ON p.name = ANY (grants.perms)
UNION ALL
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p WHERE r.name = 'superadmin'
ON CONFLICT DO NOTHING;
