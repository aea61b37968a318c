DROP INDEX "users_email_trgm_idx";--> statement-breakpoint
DROP INDEX "users_name_trgm_idx";--> statement-breakpoint
CREATE INDEX "subscriptions_active_plan_user_idx" ON "subscriptions" USING btree ("plan_id","user_id") WHERE "subscriptions"."status" = 'active';--> statement-breakpoint
CREATE INDEX "users_role_email_idx" ON "users" USING btree ("role_id",lower("email"),"id");--> statement-breakpoint
CREATE INDEX "users_role_name_idx" ON "users" USING btree ("role_id",lower("name"),"id");--> statement-breakpoint
CREATE INDEX "users_suspended_email_idx" ON "users" USING btree (lower("email"),"id") WHERE "users"."status" = 'suspended';--> statement-breakpoint
CREATE INDEX "users_suspended_name_idx" ON "users" USING btree (lower("name"),"id") WHERE "users"."status" = 'suspended';--> statement-breakpoint
CREATE INDEX "users_email_trgm_idx" ON "users" USING gin (lower("email") gin_trgm_ops) WITH (fastupdate=false);--> statement-breakpoint
CREATE INDEX "users_name_trgm_idx" ON "users" USING gin (lower("name") gin_trgm_ops) WITH (fastupdate=false);