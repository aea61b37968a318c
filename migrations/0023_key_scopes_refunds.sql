-- Refunds and disputes reverse a payment order (server/domain/subscriptions.ts): two more
-- statuses, when it happened, and the payment id a refund event may name alone.
ALTER TABLE "payment_orders" DROP CONSTRAINT "payment_orders_status_valid";--> statement-breakpoint
ALTER TABLE "payment_orders" ADD COLUMN "reversed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "payment_orders_payment_idx" ON "payment_orders" USING btree ("provider_payment_id") WHERE "payment_orders"."provider_payment_id" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "payment_orders" ADD CONSTRAINT "payment_orders_status_valid" CHECK ("payment_orders"."status" IN ('created', 'paid', 'refunded', 'disputed'));
