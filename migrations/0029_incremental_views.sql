-- The claims and admin views, maintained incrementally (issue 31; docs/decisions/view-refresh.md).
-- mv_user_permissions, mv_user_features, mv_users_with_subscription and mv_user_counts become
-- tables (same names and columns) that triggers keep current: a change to a user or a
-- subscription is in them when its transaction commits, not at the next refresh.
--   *_source             plain views: each table's one definition (what 0002/0010 defined),
--                        read by the incremental path (for a few users) and by the repair.
--   sync_user_views(ids) makes the rows of these users equal to the definitions, and moves
--                        mv_user_counts by the difference. Deferred constraint triggers on
--                        users and subscriptions call it at commit; it first locks the users'
--                        mv_users_with_subscription rows, so two transactions changing the
--                        same user (a role and a plan at once) apply one after the other, the
--                        second reading what the first committed.
--   refresh_materialized_view(name) is the repair: it compares a table with its definition
--                        (a full diff, as REFRESH ... CONCURRENTLY did) and re-syncs the users
--                        that differ (none, when the triggers did their job: `repaired`).
-- mv_user_counts holds users per role × status × plan × subscription status in 16 stripes
-- (by user id), so that concurrent registrations rarely wait on one counter row; readers sum.
DROP FUNCTION refresh_materialized_views();
--> statement-breakpoint
DROP FUNCTION refresh_materialized_view(text);
--> statement-breakpoint
DROP MATERIALIZED VIEW mv_user_permissions;
--> statement-breakpoint
DROP MATERIALIZED VIEW mv_user_features;
--> statement-breakpoint
DROP MATERIALIZED VIEW mv_users_with_subscription;
--> statement-breakpoint
DROP MATERIALIZED VIEW mv_user_counts;
--> statement-breakpoint
CREATE VIEW mv_user_permissions_source AS
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
CREATE VIEW mv_user_features_source AS
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
CREATE VIEW mv_users_with_subscription_source AS
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
-- The counter stripe of a user: the last byte of its id, modulo 16.
CREATE FUNCTION user_count_stripe(id uuid) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (get_byte(uuid_send(id), 15) % 16)::smallint
$$;
--> statement-breakpoint
CREATE VIEW mv_user_counts_source AS
SELECT role, status, plan, subscription_status, user_count_stripe(user_id) AS stripe, count(*)::int AS users
FROM mv_users_with_subscription_source
GROUP BY 1, 2, 3, 4, 5;
--> statement-breakpoint
CREATE TABLE mv_user_permissions (
  user_id uuid PRIMARY KEY,
  role text NOT NULL,
  privilege_level integer NOT NULL,
  permissions text[] NOT NULL
);
--> statement-breakpoint
CREATE TABLE mv_user_features (
  user_id uuid PRIMARY KEY,
  plan text NOT NULL,
  features text[] NOT NULL
);
--> statement-breakpoint
CREATE TABLE mv_users_with_subscription (
  user_id uuid PRIMARY KEY,
  email text NOT NULL,
  name text NOT NULL,
  role text NOT NULL,
  privilege_level integer NOT NULL,
  status text NOT NULL,
  plan text NOT NULL,
  subscription_status text NOT NULL,
  current_period_end timestamptz,
  created_at timestamptz NOT NULL
);
--> statement-breakpoint
CREATE INDEX mv_users_with_subscription_email_idx ON mv_users_with_subscription (lower(email) text_pattern_ops);
--> statement-breakpoint
CREATE INDEX mv_users_with_subscription_name_idx ON mv_users_with_subscription (lower(name) text_pattern_ops);
--> statement-breakpoint
CREATE INDEX mv_users_with_subscription_role_idx ON mv_users_with_subscription (role, user_id);
--> statement-breakpoint
CREATE INDEX mv_users_with_subscription_plan_idx ON mv_users_with_subscription (plan, user_id);
--> statement-breakpoint
CREATE TABLE mv_user_counts (
  role text NOT NULL,
  status text NOT NULL,
  plan text NOT NULL,
  subscription_status text NOT NULL,
  stripe smallint NOT NULL,
  users integer NOT NULL,
  PRIMARY KEY (role, status, plan, subscription_status, stripe)
);
--> statement-breakpoint
INSERT INTO mv_user_permissions SELECT * FROM mv_user_permissions_source;
--> statement-breakpoint
INSERT INTO mv_user_features SELECT * FROM mv_user_features_source;
--> statement-breakpoint
INSERT INTO mv_users_with_subscription SELECT * FROM mv_users_with_subscription_source;
--> statement-breakpoint
INSERT INTO mv_user_counts SELECT * FROM mv_user_counts_source;
--> statement-breakpoint
-- What the repair found and put right in its last run (0 when the triggers kept up).
ALTER TABLE view_refresh_status ADD COLUMN repaired_rows bigint NOT NULL DEFAULT 0;
--> statement-breakpoint
CREATE FUNCTION sync_user_views(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- One sync of a user at a time (in id order: no deadlock between two multi-user syncs).
  -- The statements below start after the lock, so they read what the previous holder committed.
  PERFORM 1 FROM mv_users_with_subscription WHERE user_id = ANY (ids) ORDER BY user_id FOR UPDATE;
  WITH old AS MATERIALIZED (
    SELECT user_id, role, status, plan, subscription_status FROM mv_users_with_subscription
    WHERE user_id = ANY (ids)
  ), new AS MATERIALIZED (
    SELECT * FROM mv_users_with_subscription_source WHERE user_id = ANY (ids)
  ), gone AS (
    DELETE FROM mv_users_with_subscription t
    WHERE t.user_id = ANY (ids) AND NOT EXISTS (SELECT 1 FROM new WHERE new.user_id = t.user_id)
  ), put AS (
    INSERT INTO mv_users_with_subscription SELECT * FROM new
    ON CONFLICT (user_id) DO UPDATE
      SET email = excluded.email, name = excluded.name, role = excluded.role,
          privilege_level = excluded.privilege_level, status = excluded.status, plan = excluded.plan,
          subscription_status = excluded.subscription_status,
          current_period_end = excluded.current_period_end, created_at = excluded.created_at
      WHERE (mv_users_with_subscription.email, mv_users_with_subscription.name, mv_users_with_subscription.role,
             mv_users_with_subscription.privilege_level, mv_users_with_subscription.status,
             mv_users_with_subscription.plan, mv_users_with_subscription.subscription_status,
             mv_users_with_subscription.current_period_end, mv_users_with_subscription.created_at)
        IS DISTINCT FROM
            (excluded.email, excluded.name, excluded.role, excluded.privilege_level, excluded.status,
             excluded.plan, excluded.subscription_status, excluded.current_period_end, excluded.created_at)
  ), delta AS (
    SELECT role, status, plan, subscription_status, user_count_stripe(user_id) AS stripe, sum(d)::int AS d
    FROM (SELECT user_id, role, status, plan, subscription_status, -1 AS d FROM old
          UNION ALL
          SELECT user_id, role, status, plan, subscription_status, 1 FROM new) x
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(d) <> 0
  )
  INSERT INTO mv_user_counts (role, status, plan, subscription_status, stripe, users)
  SELECT role, status, plan, subscription_status, stripe, d FROM delta ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (role, status, plan, subscription_status, stripe) DO UPDATE
    SET users = mv_user_counts.users + excluded.users;

  WITH new AS MATERIALIZED (
    SELECT * FROM mv_user_permissions_source WHERE user_id = ANY (ids)
  ), gone AS (
    DELETE FROM mv_user_permissions t
    WHERE t.user_id = ANY (ids) AND NOT EXISTS (SELECT 1 FROM new WHERE new.user_id = t.user_id)
  )
  INSERT INTO mv_user_permissions SELECT * FROM new
  ON CONFLICT (user_id) DO UPDATE
    SET role = excluded.role, privilege_level = excluded.privilege_level, permissions = excluded.permissions
    WHERE (mv_user_permissions.role, mv_user_permissions.privilege_level, mv_user_permissions.permissions)
      IS DISTINCT FROM (excluded.role, excluded.privilege_level, excluded.permissions);

  WITH new AS MATERIALIZED (
    SELECT * FROM mv_user_features_source WHERE user_id = ANY (ids)
  ), gone AS (
    DELETE FROM mv_user_features t
    WHERE t.user_id = ANY (ids) AND NOT EXISTS (SELECT 1 FROM new WHERE new.user_id = t.user_id)
  )
  INSERT INTO mv_user_features SELECT * FROM new
  ON CONFLICT (user_id) DO UPDATE
    SET plan = excluded.plan, features = excluded.features
    WHERE (mv_user_features.plan, mv_user_features.features)
      IS DISTINCT FROM (excluded.plan, excluded.features);
END $$;
--> statement-breakpoint
-- The users whose rows in a per-user view differ from its definition, in id order.
CREATE FUNCTION user_view_differences(v text) RETURNS SETOF uuid LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF v = 'mv_user_permissions' THEN
    RETURN QUERY SELECT coalesce(s.user_id, t.user_id) FROM mv_user_permissions_source s
      FULL JOIN mv_user_permissions t ON t.user_id = s.user_id
      WHERE (s.user_id, s.role, s.privilege_level, s.permissions)
            IS DISTINCT FROM (t.user_id, t.role, t.privilege_level, t.permissions)
      ORDER BY 1;
  ELSIF v = 'mv_user_features' THEN
    RETURN QUERY SELECT coalesce(s.user_id, t.user_id) FROM mv_user_features_source s
      FULL JOIN mv_user_features t ON t.user_id = s.user_id
      WHERE (s.user_id, s.plan, s.features) IS DISTINCT FROM (t.user_id, t.plan, t.features)
      ORDER BY 1;
  ELSIF v = 'mv_users_with_subscription' THEN
    RETURN QUERY SELECT coalesce(s.user_id, t.user_id) FROM mv_users_with_subscription_source s
      FULL JOIN mv_users_with_subscription t ON t.user_id = s.user_id
      WHERE (s.user_id, s.email, s.name, s.role, s.privilege_level, s.status, s.plan, s.subscription_status,
             s.current_period_end, s.created_at)
            IS DISTINCT FROM (t.user_id, t.email, t.name, t.role, t.privilege_level, t.status, t.plan,
                              t.subscription_status, t.current_period_end, t.created_at)
      ORDER BY 1;
  ELSE
    RAISE EXCEPTION 'not a per-user view: %', v;
  END IF;
END $$;
--> statement-breakpoint
-- Re-syncs the users whose per-user view rows differ from the definitions, 10,000 at a time;
-- returns how many (0 when the triggers kept up).
CREATE FUNCTION repair_user_view(v text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  ids uuid[];
  n bigint;
  i integer := 1;
BEGIN
  ids := ARRAY(SELECT user_view_differences(v));
  n := coalesce(cardinality(ids), 0);
  WHILE i <= n LOOP
    PERFORM sync_user_views(ids[i:i + 9999]);
    i := i + 10000;
  END LOOP;
  RETURN n;
END $$;
--> statement-breakpoint
-- Recounts mv_user_counts from mv_users_with_subscription when they disagree; returns the
-- number of counter rows that differed. The table lock waits for transactions that moved a
-- counter and keeps new ones waiting until the recount commits (readers are not blocked).
CREATE FUNCTION repair_user_counts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  SELECT count(*) INTO n FROM (
    SELECT role, status, plan, subscription_status, stripe, users FROM mv_user_counts WHERE users <> 0
    EXCEPT ALL
    SELECT role, status, plan, subscription_status, user_count_stripe(user_id), count(*)::int
    FROM mv_users_with_subscription GROUP BY 1, 2, 3, 4, 5
  ) d;
  SELECT n + count(*) INTO n FROM (
    SELECT role, status, plan, subscription_status, user_count_stripe(user_id), count(*)::int
    FROM mv_users_with_subscription GROUP BY 1, 2, 3, 4, 5
    EXCEPT ALL
    SELECT role, status, plan, subscription_status, stripe, users FROM mv_user_counts WHERE users <> 0
  ) d;
  IF n = 0 THEN
    RETURN 0;
  END IF;
  LOCK TABLE mv_user_counts IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM mv_user_counts;
  INSERT INTO mv_user_counts (role, status, plan, subscription_status, stripe, users)
  SELECT role, status, plan, subscription_status, user_count_stripe(user_id), count(*)::int
  FROM mv_users_with_subscription GROUP BY 1, 2, 3, 4, 5;
  RETURN n;
END $$;
--> statement-breakpoint
-- The repair of ONE view (the scheduled job runs them at once on separate connections):
-- re-syncs what differs from the definition, records it in view_refresh_status (read by
-- admin.views.status) and returns name, milliseconds, rows and rows repaired.
CREATE FUNCTION refresh_materialized_view(v text)
RETURNS TABLE (view_name text, duration_ms double precision, row_count bigint, repaired bigint)
LANGUAGE plpgsql AS $$
DECLARE
  started timestamptz;
  seq bigint;
BEGIN
  IF v IS NULL OR NOT EXISTS (SELECT 1 FROM refreshed_views rv WHERE rv.view_name = v) THEN
    RAISE EXCEPTION 'unknown materialized view: %', v;
  END IF;
  SELECT last_value INTO seq FROM view_change_seq;
  started := clock_timestamp();
  repaired := CASE WHEN v = 'mv_user_counts' THEN repair_user_counts() ELSE repair_user_view(v) END;
  view_name := v;
  duration_ms := extract(epoch FROM clock_timestamp() - started) * 1000;
  EXECUTE format('SELECT count(*) FROM %I', v) INTO row_count;
  INSERT INTO view_refresh_status (view_name, last_refreshed_at, duration_ms, row_count, change_seq, repaired_rows)
  VALUES (v, clock_timestamp(), duration_ms, row_count, seq, repaired)
  ON CONFLICT ON CONSTRAINT view_refresh_status_pkey DO UPDATE
    SET last_refreshed_at = excluded.last_refreshed_at, duration_ms = excluded.duration_ms,
        row_count = excluded.row_count, change_seq = excluded.change_seq,
        repaired_rows = excluded.repaired_rows;
  RETURN NEXT;
END $$;
--> statement-breakpoint
CREATE FUNCTION refresh_materialized_views()
RETURNS TABLE (view_name text, duration_ms double precision, row_count bigint, repaired bigint)
LANGUAGE sql AS $$
  SELECT r.* FROM refreshed_views v
  CROSS JOIN LATERAL refresh_materialized_view(v.view_name) AS r
  ORDER BY v.position
$$;
--> statement-breakpoint
-- The triggers. Deferred to commit: every change of the transaction is in place, and the
-- row locks are held only from the sync to the commit. A bulk load may turn them off for
-- its own transaction (set_config('manas360.view_sync', 'off', true)) and call
-- sync_user_views for its rows itself (scripts/bulk-seed.ts).
CREATE FUNCTION users_sync_views() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM sync_user_views(ARRAY[CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END]);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION subscriptions_sync_views() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM sync_user_views(CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.user_id] WHEN 'DELETE' THEN ARRAY[OLD.user_id]
                                     ELSE ARRAY[OLD.user_id, NEW.user_id] END);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER users_sync_views_insert AFTER INSERT ON users
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (current_setting('manas360.view_sync', true) IS DISTINCT FROM 'off')
  EXECUTE FUNCTION users_sync_views();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER users_sync_views_update AFTER UPDATE OF email, name, role_id, status, deleted_at, created_at
  ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((OLD.email, OLD.name, OLD.role_id, OLD.status, OLD.deleted_at, OLD.created_at)
        IS DISTINCT FROM (NEW.email, NEW.name, NEW.role_id, NEW.status, NEW.deleted_at, NEW.created_at)
        AND current_setting('manas360.view_sync', true) IS DISTINCT FROM 'off')
  EXECUTE FUNCTION users_sync_views();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER users_sync_views_delete AFTER DELETE ON users
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (current_setting('manas360.view_sync', true) IS DISTINCT FROM 'off')
  EXECUTE FUNCTION users_sync_views();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER subscriptions_sync_views AFTER INSERT OR UPDATE OR DELETE ON subscriptions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (current_setting('manas360.view_sync', true) IS DISTINCT FROM 'off')
  EXECUTE FUNCTION subscriptions_sync_views();
--> statement-breakpoint
-- A catalog change (a role's permissions, a plan's features: migrations, rarely anything
-- else) can change the rows of every user of the role or plan: the statement re-syncs every
-- user whose rows it changed, in its own transaction.
CREATE FUNCTION catalog_sync_views() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM repair_user_view('mv_user_permissions');
  PERFORM repair_user_view('mv_user_features');
  PERFORM repair_user_view('mv_users_with_subscription');
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER roles_sync_views AFTER INSERT OR UPDATE OR DELETE ON roles
  FOR EACH STATEMENT EXECUTE FUNCTION catalog_sync_views();
--> statement-breakpoint
CREATE TRIGGER role_permissions_sync_views AFTER INSERT OR UPDATE OR DELETE ON role_permissions
  FOR EACH STATEMENT EXECUTE FUNCTION catalog_sync_views();
--> statement-breakpoint
CREATE TRIGGER permissions_sync_views AFTER INSERT OR UPDATE OR DELETE ON permissions
  FOR EACH STATEMENT EXECUTE FUNCTION catalog_sync_views();
--> statement-breakpoint
CREATE TRIGGER plans_sync_views AFTER INSERT OR UPDATE OR DELETE ON plans
  FOR EACH STATEMENT EXECUTE FUNCTION catalog_sync_views();
--> statement-breakpoint
CREATE TRIGGER plan_features_sync_views AFTER INSERT OR UPDATE OR DELETE ON plan_features
  FOR EACH STATEMENT EXECUTE FUNCTION catalog_sync_views();
--> statement-breakpoint
CREATE TRIGGER features_sync_views AFTER INSERT OR UPDATE OR DELETE ON features
  FOR EACH STATEMENT EXECUTE FUNCTION catalog_sync_views();
