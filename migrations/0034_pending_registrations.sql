-- Registration that does not reveal membership (issue 32, finding 10; docs/decisions/
-- registration-privacy.md): auth.register creates the account 'pending' until the link sent
-- to the address is followed (auth.verifyEmail makes it 'active'); pending accounts never
-- confirmed are deleted by the pending-account-cleanup job. Existing accounts stay as they
-- are ('active' remains the column's default: the admin bootstrap and seeding create active
-- accounts).
ALTER TABLE users DROP CONSTRAINT users_status_valid;
--> statement-breakpoint
ALTER TABLE users ADD CONSTRAINT users_status_valid CHECK (status IN ('active', 'suspended', 'pending'));
--> statement-breakpoint
-- The clean-up's walk: only pending rows, oldest first.
CREATE INDEX users_pending_created_idx ON users (created_at) WHERE status = 'pending';
