ALTER TABLE "crisis_alerts" ADD COLUMN "submissions" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "crisis_alerts" ADD COLUMN "last_assessment_id" uuid;--> statement-breakpoint
ALTER TABLE "crisis_alerts" ADD COLUMN "last_submitted_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "session_generation" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "session_generation" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "crisis_alerts" ADD CONSTRAINT "crisis_alerts_last_assessment_id_assessments_id_fk" FOREIGN KEY ("last_assessment_id") REFERENCES "public"."assessments"("id") ON DELETE set null ON UPDATE no action;