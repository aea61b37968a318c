-- Time-partitioned history (issue 31; docs/decisions/partitioning.md): mood_entries and
-- assessments by created_at, audit_log by at, one partition per calendar month (UTC), plus a
-- DEFAULT partition each so that no insert ever fails for want of a partition. The project's
-- own job (history-partitions, server/jobs) keeps HISTORY_PARTITIONS_AHEAD months ready;
-- history_partitions records each monthly partition and its bounds.
-- Primary keys include the partition key: (id, created_at) / (id, at). The foreign keys from
-- crisis_alerts to assessments become (assessment_id, assessment_created_at) and
-- (last_assessment_id, last_assessment_created_at).
-- An existing database is migrated by copying: each table is renamed, a partitioned one of
-- the same columns takes its name, partitions are made for every month holding rows, the rows
-- are copied and the old table dropped (in this migration's transaction: the tables are
-- locked while it runs; see docs/operations.md, "Partitioned history").
CREATE TABLE history_partitions (
  table_name text NOT NULL,
  partition_name text PRIMARY KEY,
  from_at timestamptz NOT NULL,
  to_at timestamptz NOT NULL,
  CONSTRAINT history_partitions_month_uq UNIQUE (table_name, from_at)
);
--> statement-breakpoint
-- The partition of one month (the month of `month`, UTC) of a history table, made if missing;
-- returns its name. An audit_log partition gets the append-only TRUNCATE guard of its own (the
-- row triggers are inherited from the parent; a TRUNCATE of a partition is not). SECURITY
-- DEFINER: the job calls it as the application's role, which does not own the tables.
CREATE FUNCTION create_history_partition(tbl text, month timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  from_at timestamptz := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  to_at timestamptz := (date_trunc('month', month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
  part text := tbl || '_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
  IF tbl <> ALL (ARRAY['mood_entries', 'assessments', 'audit_log']) THEN
    RAISE EXCEPTION 'not a history table: %', tbl;
  END IF;
  IF EXISTS (SELECT 1 FROM history_partitions h WHERE h.partition_name = part) THEN
    RETURN part;
  END IF;
  EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
                 part, tbl, from_at, to_at);
  IF tbl = 'audit_log' THEN
    EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON public.%I
                    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_log_append_only()', part);
  END IF;
  INSERT INTO history_partitions (table_name, partition_name, from_at, to_at) VALUES (tbl, part, from_at, to_at);
  RETURN part;
END $$;
--> statement-breakpoint
-- The partitions of the three tables from the month of `since` to `ahead` months after the
-- current one; returns how many were made (the job's daily run: 0 on most days).
CREATE FUNCTION ensure_history_partitions(ahead integer, since timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  t text;
  m timestamptz;
  made integer := 0;
BEGIN
  FOREACH t IN ARRAY ARRAY['mood_entries', 'assessments', 'audit_log'] LOOP
    m := date_trunc('month', least(since, now()) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE m < (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => ahead + 1)) AT TIME ZONE 'UTC' LOOP
      IF NOT EXISTS (SELECT 1 FROM history_partitions h WHERE h.table_name = t AND h.from_at = m) THEN
        PERFORM create_history_partition(t, m);
        made := made + 1;
      END IF;
      m := (m AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC';
    END LOOP;
  END LOOP;
  RETURN made;
END $$;
--> statement-breakpoint
-- mood_entries
ALTER TABLE mood_entries RENAME TO mood_entries_v0;
--> statement-breakpoint
ALTER INDEX mood_entries_pkey RENAME TO mood_entries_v0_pkey;
--> statement-breakpoint
ALTER INDEX mood_entries_user_created_idx RENAME TO mood_entries_v0_user_created_idx;
--> statement-breakpoint
CREATE TABLE mood_entries (LIKE mood_entries_v0 INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (created_at);
--> statement-breakpoint
ALTER TABLE mood_entries ADD CONSTRAINT mood_entries_pkey PRIMARY KEY (id, created_at);
--> statement-breakpoint
ALTER TABLE mood_entries ADD CONSTRAINT mood_entries_user_id_users_id_fk FOREIGN KEY (user_id)
  REFERENCES users (id) ON DELETE CASCADE;
--> statement-breakpoint
CREATE INDEX mood_entries_user_created_idx ON mood_entries (user_id, created_at DESC, id DESC);
--> statement-breakpoint
CREATE TABLE mood_entries_default PARTITION OF mood_entries DEFAULT;
--> statement-breakpoint
-- assessments
ALTER TABLE assessments RENAME TO assessments_v0;
--> statement-breakpoint
ALTER INDEX assessments_pkey RENAME TO assessments_v0_pkey;
--> statement-breakpoint
ALTER INDEX assessments_user_created_idx RENAME TO assessments_v0_user_created_idx;
--> statement-breakpoint
ALTER INDEX assessments_created_idx RENAME TO assessments_v0_created_idx;
--> statement-breakpoint
CREATE TABLE assessments (LIKE assessments_v0 INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (created_at);
--> statement-breakpoint
ALTER TABLE assessments ADD CONSTRAINT assessments_pkey PRIMARY KEY (id, created_at);
--> statement-breakpoint
ALTER TABLE assessments ADD CONSTRAINT assessments_user_id_users_id_fk FOREIGN KEY (user_id)
  REFERENCES users (id) ON DELETE CASCADE;
--> statement-breakpoint
CREATE INDEX assessments_user_created_idx ON assessments (user_id, created_at DESC, id DESC);
--> statement-breakpoint
CREATE INDEX assessments_created_idx ON assessments (created_at);
--> statement-breakpoint
CREATE TABLE assessments_default PARTITION OF assessments DEFAULT;
--> statement-breakpoint
-- audit_log (the identity continues where the old table's left off)
ALTER TABLE audit_log RENAME TO audit_log_v0;
--> statement-breakpoint
ALTER INDEX audit_log_pkey RENAME TO audit_log_v0_pkey;
--> statement-breakpoint
ALTER INDEX audit_log_at_idx RENAME TO audit_log_v0_at_idx;
--> statement-breakpoint
ALTER INDEX audit_log_actor_idx RENAME TO audit_log_v0_actor_idx;
--> statement-breakpoint
ALTER INDEX audit_log_target_idx RENAME TO audit_log_v0_target_idx;
--> statement-breakpoint
ALTER INDEX audit_log_action_idx RENAME TO audit_log_v0_action_idx;
--> statement-breakpoint
ALTER SEQUENCE audit_log_id_seq RENAME TO audit_log_v0_id_seq;
--> statement-breakpoint
CREATE TABLE audit_log (LIKE audit_log_v0 INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)
  PARTITION BY RANGE (at);
--> statement-breakpoint
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id, at);
--> statement-breakpoint
CREATE INDEX audit_log_at_idx ON audit_log (at);
--> statement-breakpoint
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
--> statement-breakpoint
CREATE INDEX audit_log_target_idx ON audit_log (target_id, id);
--> statement-breakpoint
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
--> statement-breakpoint
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;
--> statement-breakpoint
-- Partitions for every month that holds rows, and this month and the next three.
SELECT ensure_history_partitions(3, least(
  (SELECT min(created_at) FROM mood_entries_v0), (SELECT min(created_at) FROM assessments_v0),
  (SELECT min(at) FROM audit_log_v0), now()));
--> statement-breakpoint
INSERT INTO mood_entries SELECT * FROM mood_entries_v0;
--> statement-breakpoint
INSERT INTO assessments SELECT * FROM assessments_v0;
--> statement-breakpoint
INSERT INTO audit_log OVERRIDING SYSTEM VALUE SELECT * FROM audit_log_v0;
--> statement-breakpoint
SELECT setval(pg_get_serial_sequence('audit_log', 'id'),
              greatest((SELECT max(id) FROM audit_log), (SELECT last_value FROM audit_log_v0_id_seq)));
--> statement-breakpoint
-- crisis_alerts reference an assessment by its whole key now.
ALTER TABLE crisis_alerts ADD COLUMN assessment_created_at timestamptz;
--> statement-breakpoint
ALTER TABLE crisis_alerts ADD COLUMN last_assessment_created_at timestamptz;
--> statement-breakpoint
UPDATE crisis_alerts ca SET assessment_created_at = a.created_at FROM assessments a WHERE a.id = ca.assessment_id;
--> statement-breakpoint
UPDATE crisis_alerts ca SET last_assessment_created_at = a.created_at FROM assessments a WHERE a.id = ca.last_assessment_id;
--> statement-breakpoint
ALTER TABLE crisis_alerts ALTER COLUMN assessment_created_at SET NOT NULL;
--> statement-breakpoint
DROP TABLE mood_entries_v0;
--> statement-breakpoint
DROP TABLE assessments_v0 CASCADE;
--> statement-breakpoint
DROP TABLE audit_log_v0;
--> statement-breakpoint
ALTER TABLE crisis_alerts ADD CONSTRAINT crisis_alerts_assessment_fk FOREIGN KEY (assessment_id, assessment_created_at)
  REFERENCES assessments (id, created_at) ON DELETE CASCADE;
--> statement-breakpoint
ALTER TABLE crisis_alerts ADD CONSTRAINT crisis_alerts_last_assessment_fk
  FOREIGN KEY (last_assessment_id, last_assessment_created_at) REFERENCES assessments (id, created_at) ON DELETE SET NULL;
--> statement-breakpoint
-- The append-only guard (migration 0015) on the new audit_log: the row triggers are cloned to
-- every partition, the TRUNCATE one is on the parent here and on each partition
-- (create_history_partition, and the default partition below).
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log_default
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
-- Retention drops whole partitions: those wholly older than the cutoff go (DROP TABLE, which
-- no row trigger sees, inside this SECURITY DEFINER function only); the entries past the
-- cutoff in the month that straddles it (and in the default partition) are deleted as before.
-- Returns the entries removed.
CREATE OR REPLACE FUNCTION purge_audit_log(days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  cutoff timestamptz;
  n bigint := 0;
  k bigint;
  p record;
BEGIN
  IF days IS NULL OR days < 1 THEN
    RAISE EXCEPTION 'purge_audit_log: days must be at least 1';
  END IF;
  cutoff := now() - make_interval(days => days);
  FOR p IN SELECT partition_name FROM history_partitions
           WHERE table_name = 'audit_log' AND to_at <= cutoff ORDER BY from_at LOOP
    EXECUTE format('SELECT count(*) FROM public.%I', p.partition_name) INTO k;
    EXECUTE format('DROP TABLE public.%I', p.partition_name);
    DELETE FROM history_partitions WHERE partition_name = p.partition_name;
    n := n + k;
  END LOOP;
  PERFORM set_config('manas360.audit_maintenance', 'on', true);
  DELETE FROM audit_log WHERE at < cutoff;
  GET DIAGNOSTICS k = ROW_COUNT;
  PERFORM set_config('manas360.audit_maintenance', 'off', true);
  RETURN n + k;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION purge_audit_log(integer) FROM PUBLIC;
