-- Materialized views for the admin dashboard and analytics, the change marker that lets
-- the refresh job skip when nothing changed, and refresh_materialized_views().
-- Each view has a unique index on user_id, so REFRESH ... CONCURRENTLY never blocks readers.
-- A user's effective plan is the subscription's plan while it is active, else 'free'.
-- Permissions and features are aggregated per role / per plan (a handful of rows) and then
-- joined to users, rather than aggregated per user (the permissions query at 100K users:
-- 716 ms aggregated per user, 46 ms per role).
CREATE MATERIALIZED VIEW mv_user_permissions AS
WITH role_perms AS (
  SELECT r.id, r.name, r.privilege_level::int AS privilege_level,
         coalesce(array_agg(p.name ORDER BY p.name) FILTER (WHERE p.name IS NOT NULL), '{}') AS permissions
  FROM roles r
  LEFT JOIN role_permissions rp ON rp.role_id = r.id
  LEFT JOIN permissions p ON p.id = rp.permission_id
  GROUP BY r.id
)
SELECT u.id AS user_id, rp.name AS role, rp.privilege_level, rp.permissions
FROM users u
JOIN role_perms rp ON rp.id = u.role_id
WHERE u.deleted_at IS NULL;
--> statement-breakpoint
CREATE UNIQUE INDEX mv_user_permissions_user_uq ON mv_user_permissions (user_id);
--> statement-breakpoint
CREATE MATERIALIZED VIEW mv_user_features AS
WITH plan_feats AS (
  SELECT pl.id, pl.code,
         coalesce(array_agg(f.code ORDER BY f.code) FILTER (WHERE f.code IS NOT NULL), '{}') AS features
  FROM plans pl
  LEFT JOIN plan_features pf ON pf.plan_id = pl.id
  LEFT JOIN features f ON f.id = pf.feature_id
  GROUP BY pl.id
)
SELECT u.id AS user_id, pf.code AS plan, pf.features
FROM users u
LEFT JOIN subscriptions s ON s.user_id = u.id AND s.status = 'active'
JOIN plan_feats pf ON pf.id = coalesce(s.plan_id, (SELECT id FROM plans WHERE code = 'free'))
WHERE u.deleted_at IS NULL;
--> statement-breakpoint
CREATE UNIQUE INDEX mv_user_features_user_uq ON mv_user_features (user_id);
--> statement-breakpoint
CREATE MATERIALIZED VIEW mv_users_with_subscription AS
SELECT u.id AS user_id, u.email, u.name, r.name AS role, r.privilege_level::int AS privilege_level,
       u.status,
       CASE WHEN s.status = 'active' THEN pl.code ELSE 'free' END AS plan,
       coalesce(s.status, 'none') AS subscription_status,
       s.current_period_end, u.created_at
FROM users u
JOIN roles r ON r.id = u.role_id
LEFT JOIN subscriptions s ON s.user_id = u.id
LEFT JOIN plans pl ON pl.id = s.plan_id
WHERE u.deleted_at IS NULL;
--> statement-breakpoint
CREATE UNIQUE INDEX mv_users_with_subscription_user_uq ON mv_users_with_subscription (user_id);
--> statement-breakpoint
CREATE INDEX mv_users_with_subscription_email_idx ON mv_users_with_subscription (lower(email) text_pattern_ops);
--> statement-breakpoint
CREATE INDEX mv_users_with_subscription_name_idx ON mv_users_with_subscription (lower(name) text_pattern_ops);
--> statement-breakpoint
CREATE INDEX mv_users_with_subscription_role_idx ON mv_users_with_subscription (role, user_id);
--> statement-breakpoint
CREATE INDEX mv_users_with_subscription_plan_idx ON mv_users_with_subscription (plan, user_id);
--> statement-breakpoint
-- Change marker: statement triggers on every base table of the views bump a sequence.
-- A sequence, not a counter row, so concurrent writers never wait on each other.
CREATE SEQUENCE view_change_seq;
--> statement-breakpoint
-- Consume the first value so last_value moves on the first change after this point.
SELECT nextval('view_change_seq');
--> statement-breakpoint
CREATE FUNCTION mark_views_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval('view_change_seq');
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER users_views_changed AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF email, name, role_id, status, deleted_at, created_at
  ON users FOR EACH STATEMENT EXECUTE FUNCTION mark_views_changed();
--> statement-breakpoint
CREATE TRIGGER subscriptions_views_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON subscriptions FOR EACH STATEMENT EXECUTE FUNCTION mark_views_changed();
--> statement-breakpoint
CREATE TRIGGER roles_views_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON roles FOR EACH STATEMENT EXECUTE FUNCTION mark_views_changed();
--> statement-breakpoint
CREATE TRIGGER role_permissions_views_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON role_permissions FOR EACH STATEMENT EXECUTE FUNCTION mark_views_changed();
--> statement-breakpoint
CREATE TRIGGER permissions_views_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON permissions FOR EACH STATEMENT EXECUTE FUNCTION mark_views_changed();
--> statement-breakpoint
CREATE TRIGGER plans_views_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON plans FOR EACH STATEMENT EXECUTE FUNCTION mark_views_changed();
--> statement-breakpoint
CREATE TRIGGER plan_features_views_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON plan_features FOR EACH STATEMENT EXECUTE FUNCTION mark_views_changed();
--> statement-breakpoint
CREATE TRIGGER features_views_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON features FOR EACH STATEMENT EXECUTE FUNCTION mark_views_changed();
--> statement-breakpoint
-- refresh_materialized_view(name) refreshes ONE view CONCURRENTLY, ANALYZEs it (fresh
-- statistics keep prefix searches on the text_pattern_ops indexes), records it in
-- view_refresh_status (read by admin.views.status) and returns name, milliseconds and rows.
-- The refresh job runs the three at once on separate connections (they are independent);
-- refresh_materialized_views() refreshes all three one after another, in one statement.
CREATE FUNCTION refresh_materialized_view(v text)
RETURNS TABLE (view_name text, duration_ms double precision, row_count bigint)
LANGUAGE plpgsql AS $$
DECLARE
  started timestamptz;
  seq bigint;
BEGIN
  IF v IS NULL OR v <> ALL (ARRAY['mv_user_permissions', 'mv_user_features', 'mv_users_with_subscription']) THEN
    RAISE EXCEPTION 'unknown materialized view: %', v;
  END IF;
  SELECT last_value INTO seq FROM view_change_seq;
  started := clock_timestamp();
  EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I', v);
  EXECUTE format('ANALYZE %I', v);
  view_name := v;
  duration_ms := extract(epoch FROM clock_timestamp() - started) * 1000;
  EXECUTE format('SELECT count(*) FROM %I', v) INTO row_count;
  INSERT INTO view_refresh_status (view_name, last_refreshed_at, duration_ms, row_count, change_seq)
  VALUES (v, clock_timestamp(), duration_ms, row_count, seq)
  ON CONFLICT ON CONSTRAINT view_refresh_status_pkey DO UPDATE
    SET last_refreshed_at = excluded.last_refreshed_at, duration_ms = excluded.duration_ms,
        row_count = excluded.row_count, change_seq = excluded.change_seq;
  RETURN NEXT;
END $$;
--> statement-breakpoint
CREATE FUNCTION refresh_materialized_views()
RETURNS TABLE (view_name text, duration_ms double precision, row_count bigint)
LANGUAGE sql AS $$
  SELECT r.* FROM unnest(ARRAY['mv_user_permissions', 'mv_user_features', 'mv_users_with_subscription'])
         WITH ORDINALITY AS v(name, n)
  CROSS JOIN LATERAL refresh_materialized_view(v.name) AS r
  ORDER BY v.n
$$;
--> statement-breakpoint
-- True when a base table changed since the last refresh of any view (or a view was never refreshed).
CREATE FUNCTION materialized_views_stale() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT min(change_seq) FROM view_refresh_status), -1) < (SELECT last_value FROM view_change_seq)
      OR (SELECT count(*) FROM view_refresh_status) < 3
$$;
