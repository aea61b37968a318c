-- Second factors (issue 28, docs/decisions/staff-mfa.md): TOTP secrets (sealed by the notes
-- key), passkeys (WebAuthn credentials), single-use recovery codes (SHA-256), ceremony
-- tokens already used, and how each session was authenticated (amr, auth_time).
CREATE TABLE "mfa_factors" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"secret_key_id" text,
	"secret_ciphertext" text,
	"last_used_step" bigint,
	"credential_id" text,
	"public_key" bytea,
	"counter" bigint,
	"transports" text[],
	"backed_up" boolean,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "mfa_factors_kind_check" CHECK ("kind" IN ('totp', 'passkey')),
	CONSTRAINT "mfa_factors_totp_check" CHECK ("kind" <> 'totp' OR ("secret_key_id" IS NOT NULL AND "secret_ciphertext" IS NOT NULL)),
	CONSTRAINT "mfa_factors_passkey_check" CHECK ("kind" <> 'passkey' OR ("credential_id" IS NOT NULL AND "public_key" IS NOT NULL AND "counter" IS NOT NULL))
);
--> statement-breakpoint
ALTER TABLE "mfa_factors" ADD CONSTRAINT "mfa_factors_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "mfa_factors_user_idx" ON "mfa_factors" USING btree ("user_id");
--> statement-breakpoint
CREATE UNIQUE INDEX "mfa_factors_credential_uq" ON "mfa_factors" USING btree ("credential_id") WHERE "credential_id" IS NOT NULL;
--> statement-breakpoint
CREATE TABLE "mfa_recovery_codes" (
	"user_id" uuid NOT NULL,
	"code_hash" text NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mfa_recovery_codes_pk" PRIMARY KEY ("user_id", "code_hash")
);
--> statement-breakpoint
ALTER TABLE "mfa_recovery_codes" ADD CONSTRAINT "mfa_recovery_codes_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE TABLE "mfa_used_ceremonies" (
	"jti" uuid PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "mfa_used_ceremonies_expires_idx" ON "mfa_used_ceremonies" USING btree ("expires_at");
--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "amr" text[] DEFAULT '{pwd}' NOT NULL;
--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "auth_time" timestamp with time zone DEFAULT now() NOT NULL;
