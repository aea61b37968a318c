-- Issue 32: support tickets that cannot be flooded, and priority that follows the plan.
--   support_tickets.owner_messages counts the owner's messages on a ticket: a reply past the
--   limit (shared/inputs/support.ts) is refused by the UPDATE that takes the ticket's row lock,
--   so the limit holds under concurrency;
--   a ticket's priority follows its owner's plan: when a subscription stops giving
--   priority_support (a plan change, an expiry, a refund or dispute taking the period back,
--   the row deleted), the owner's priority tickets that are not closed become standard, in
--   the same transaction as the change.
ALTER TABLE "support_tickets" ADD COLUMN "owner_messages" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
UPDATE "support_tickets" t SET "owner_messages" = (
  SELECT count(*) FROM "support_messages" m WHERE m."ticket_id" = t."id" AND NOT m."from_staff"
);--> statement-breakpoint
CREATE FUNCTION support_priority_follows_plan() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  owner uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
BEGIN
  IF TG_OP = 'DELETE' OR NOT (
    NEW.status = 'active' AND (NEW.current_period_end IS NULL OR NEW.current_period_end > now())
    AND EXISTS (SELECT 1 FROM plan_features pf JOIN features f ON f.id = pf.feature_id
                WHERE pf.plan_id = NEW.plan_id AND f.code = 'priority_support')
  ) THEN
    UPDATE support_tickets SET priority = 'standard', updated_at = now()
    WHERE user_id = owner AND priority = 'priority' AND status <> 'closed';
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER subscriptions_support_priority
  AFTER UPDATE OF status, plan_id, current_period_end OR DELETE ON subscriptions
  FOR EACH ROW EXECUTE FUNCTION support_priority_follows_plan();
