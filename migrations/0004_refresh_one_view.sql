-- refresh_materialized_view(name): refreshes ONE of the three views CONCURRENTLY, ANALYZEs it,
-- records it in view_refresh_status and returns name, milliseconds and rows. The refresh job
-- runs the three on separate connections at once (they are independent); 
-- refresh_materialized_views() keeps its contract and refreshes them one after another.
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
  -- Fresh statistics, so prefix searches keep using the text_pattern_ops indexes.
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
  SELECT r.* FROM unnest(ARRAY['mv_user_permissions', 'mv_user_features', 'mv_users_with_subscription'])
         WITH ORDINALITY AS v(name, n)
  CROSS JOIN LATERAL refresh_materialized_view(v.name) AS r
  ORDER BY v.n
$$;
