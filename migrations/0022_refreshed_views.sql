CREATE TABLE "refreshed_views" (
	"view_name" text PRIMARY KEY NOT NULL,
	"position" integer NOT NULL,
	CONSTRAINT "refreshed_views_position_unique" UNIQUE("position")
);
--> statement-breakpoint
-- The views the refresh functions refresh, in order. Until now each function spelled the list
-- (0002, 0010 redefined both to add mv_user_counts); a new view is now one row here.
INSERT INTO refreshed_views (view_name, position) VALUES
  ('mv_user_permissions', 1), ('mv_user_features', 2), ('mv_users_with_subscription', 3), ('mv_user_counts', 4);
--> statement-breakpoint
CREATE OR REPLACE FUNCTION refresh_materialized_view(v text)
RETURNS TABLE (view_name text, duration_ms double precision, row_count bigint)
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
CREATE OR REPLACE FUNCTION refresh_materialized_views()
RETURNS TABLE (view_name text, duration_ms double precision, row_count bigint)
LANGUAGE sql AS $$
  SELECT r.* FROM refreshed_views v
  CROSS JOIN LATERAL refresh_materialized_view(v.view_name) AS r
  ORDER BY v.position
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION materialized_views_stale() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT min(change_seq) FROM view_refresh_status), -1) < (SELECT last_value FROM view_change_seq)
      OR (SELECT count(*) FROM view_refresh_status) < (SELECT count(*) FROM refreshed_views)
$$;
