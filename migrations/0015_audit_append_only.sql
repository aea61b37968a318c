-- The audit log is append-only (issue 15; docs/operations.md, "Audit log"). A trigger refuses
-- every UPDATE, DELETE and TRUNCATE of audit_log, except inside the two functions below,
-- which own the only changes the application ever makes to past entries:
--   purge_audit_log(days)        the retention job: entries older than AUDIT_RETENTION_DAYS go;
--   scrub_audit_log(user_ids)    account erasure: entries by or about the erased accounts lose
--                                their IP, details and request id (who did what to whom, and
--                                when, stays: the pseudonymous ids and the action).
-- Both are SECURITY DEFINER: in production the application's role has UPDATE and DELETE on
-- audit_log revoked (the operator's SQL is in docs/operations.md) and changes past entries
-- only through them. The trigger also holds where the application connects as the owner
-- (development, tests): the functions open it with a transaction-local setting.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('manas360.audit_maintenance', true) = 'on' THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'entries leave only through purge_audit_log(days) and scrub_audit_log(user_ids)';
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
CREATE FUNCTION purge_audit_log(days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  n bigint;
BEGIN
  IF days IS NULL OR days < 1 THEN
    RAISE EXCEPTION 'purge_audit_log: days must be at least 1';
  END IF;
  PERFORM set_config('manas360.audit_maintenance', 'on', true);
  DELETE FROM audit_log WHERE at < now() - make_interval(days => days);
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('manas360.audit_maintenance', 'off', true);
  RETURN n;
END
$$;
--> statement-breakpoint
CREATE FUNCTION scrub_audit_log(user_ids uuid[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM set_config('manas360.audit_maintenance', 'on', true);
  UPDATE audit_log SET ip = NULL, details = NULL, request_id = NULL
  WHERE (actor_id = ANY (user_ids) OR target_id = ANY (user_ids))
    AND action <> 'privacy.accountErased'
    AND (ip IS NOT NULL OR details IS NOT NULL OR request_id IS NOT NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('manas360.audit_maintenance', 'off', true);
  RETURN n;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION purge_audit_log(integer) FROM PUBLIC;
--> statement-breakpoint
REVOKE ALL ON FUNCTION scrub_audit_log(uuid[]) FROM PUBLIC;
