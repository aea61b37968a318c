-- Issue 27: the live crisis queue, on-call notification and escalation.
--   crisis_alerts gains its escalation state (level 0 = none; 1 = admins told; 2 = told again)
--   and when the on-call staff were notified;
--   crisis_events is the queue's event log: every raise, acknowledgement and escalation, one
--   row each, written by a trigger in the same transaction as the change. Ids are handed out
--   under a transaction-scoped advisory lock, so they commit in id order: a subscriber that
--   has seen id N resumes with id > N and loses nothing (server/domain/crisis-feed.ts). Old
--   rows go with the crisis escalation job (a bounded log);
--   crisis_on_call is the on-call schedule: who is on call, from when until when.
ALTER TABLE "crisis_alerts" ADD COLUMN "escalation_level" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "crisis_alerts" ADD COLUMN "escalated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "crisis_alerts" ADD COLUMN "notified_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "crisis_alerts" ADD CONSTRAINT "crisis_alerts_escalation_level_range" CHECK ("crisis_alerts"."escalation_level" BETWEEN 0 AND 2);--> statement-breakpoint
CREATE INDEX "crisis_alerts_open_created_idx" ON "crisis_alerts" USING btree ("created_at") WHERE "crisis_alerts"."status" = 'open';--> statement-breakpoint
CREATE TABLE "crisis_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"alert_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"actor_id" uuid,
	"level" smallint DEFAULT 0 NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "crisis_events_kind_valid" CHECK ("crisis_events"."kind" IN ('raised', 'acknowledged', 'escalated'))
);
--> statement-breakpoint
ALTER TABLE "crisis_events" ADD CONSTRAINT "crisis_events_alert_id_crisis_alerts_id_fk" FOREIGN KEY ("alert_id") REFERENCES "public"."crisis_alerts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "crisis_events_at_idx" ON "crisis_events" USING btree ("at");--> statement-breakpoint
CREATE TABLE "crisis_on_call" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"starts_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "crisis_on_call_window" CHECK ("crisis_on_call"."ends_at" > "crisis_on_call"."starts_at")
);
--> statement-breakpoint
ALTER TABLE "crisis_on_call" ADD CONSTRAINT "crisis_on_call_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "crisis_on_call_ends_idx" ON "crisis_on_call" USING btree ("ends_at");--> statement-breakpoint
CREATE FUNCTION crisis_alert_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind text;
  actor uuid;
BEGIN
  IF TG_OP = 'INSERT' THEN
    kind := 'raised';
  ELSIF NEW.status = 'acknowledged' AND OLD.status = 'open' THEN
    kind := 'acknowledged';
    actor := NEW.acknowledged_by;
  ELSIF NEW.escalation_level > OLD.escalation_level THEN
    kind := 'escalated';
  ELSE
    RETURN NULL; -- another screening attached to the open alert, or notified_at set
  END IF;
  -- Ids in commit order: one writer of crisis_events at a time (crisis writes are rare).
  PERFORM pg_advisory_xact_lock(360360, 27);
  INSERT INTO crisis_events (alert_id, kind, actor_id, level) VALUES (NEW.id, kind, actor, NEW.escalation_level);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER crisis_alert_event AFTER INSERT OR UPDATE ON crisis_alerts
  FOR EACH ROW EXECUTE FUNCTION crisis_alert_event();
