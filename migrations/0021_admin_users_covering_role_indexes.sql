DROP INDEX "users_role_created_idx";--> statement-breakpoint
DROP INDEX "users_role_email_idx";--> statement-breakpoint
DROP INDEX "users_role_name_idx";--> statement-breakpoint
CREATE INDEX "users_role_created_idx" ON "users" USING btree ("role_id","created_at","id","status","deleted_at");--> statement-breakpoint
CREATE INDEX "users_role_email_idx" ON "users" USING btree ("role_id",lower("email"),"id","email","status","deleted_at");--> statement-breakpoint
CREATE INDEX "users_role_name_idx" ON "users" USING btree ("role_id",lower("name"),"id","name","status","deleted_at");