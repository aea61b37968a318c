-- Clinical rules (docs/decisions/clinical-rules.md).
--
-- 1. One open crisis alert per patient. Existing alerts start with last_submitted_at =
--    created_at. Where a patient has several open alerts, the oldest stays open and takes
--    the others in (submissions, the latest assessment and when); the others are closed
--    (acknowledged_at set, acknowledged_by NULL: closed by this migration, not by a
--    clinician). Their assessments are untouched. The unique index follows in the next
--    migration (drizzle-kit manages it).
UPDATE crisis_alerts SET last_submitted_at = created_at;--> statement-breakpoint
WITH ranked AS (
  SELECT id, user_id, assessment_id, created_at,
         row_number() OVER (PARTITION BY user_id ORDER BY created_at, id) AS n,
         count(*) OVER (PARTITION BY user_id) AS total,
         first_value(assessment_id) OVER (PARTITION BY user_id ORDER BY created_at DESC, id DESC) AS latest,
         max(created_at) OVER (PARTITION BY user_id) AS latest_at
  FROM crisis_alerts WHERE status = 'open'
), kept AS (
  UPDATE crisis_alerts a SET submissions = r.total, last_assessment_id = r.latest, last_submitted_at = r.latest_at
  FROM ranked r WHERE a.id = r.id AND r.n = 1 AND r.total > 1
)
UPDATE crisis_alerts a SET status = 'acknowledged', acknowledged_at = now()
FROM ranked r WHERE a.id = r.id AND r.n > 1;--> statement-breakpoint

-- 2. The cap on a patient's upcoming bookings, atomically: therapy.book's INSERT calls this
--    function, which locks the patient's row (so bookings of one patient run one at a time)
--    and then counts with a snapshot of its own (a VOLATILE function's statements see what
--    committed before them), so a booking that committed while this one waited is counted.
CREATE FUNCTION upcoming_bookings_locked(p_patient uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n integer;
BEGIN
  PERFORM 1 FROM users WHERE id = p_patient FOR NO KEY UPDATE;
  SELECT count(*) INTO n FROM therapy_sessions
  WHERE patient_id = p_patient AND status = 'booked' AND starts_at > now();
  RETURN n;
END
$$;
