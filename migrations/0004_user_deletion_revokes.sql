-- Deleting a user ends their sessions as admin.users.revokeSessions does: their access
-- tokens die and their refresh tokens stop working. The API has no deletion procedure
-- (users are deleted by SQL: soft, by setting deleted_at, or a hard DELETE), so the
-- database records the revocation itself and every instance learns it from Postgres at
-- start and at its next revocation resync (loadRevocations in server/auth/revocation.ts):
--   soft delete: tokens_valid_after moves a minute past now (margin for an instance whose
--                clock is ahead: a deleted user gets no new token anyway) and the refresh
--                tokens are revoked;
--   DELETE:      the row is gone (its refresh tokens with it, by cascade), so an audit entry
--                'user.deleted' names it, and loadRevocations reads those as well.
CREATE FUNCTION users_deletion_revokes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO audit_log (action, target_id) VALUES ('user.deleted', OLD.id);
    RETURN OLD;
  END IF;
  NEW.tokens_valid_after := greatest(NEW.tokens_valid_after, date_trunc('second', clock_timestamp()) + interval '1 minute');
  UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = NEW.id AND revoked_at IS NULL;
  INSERT INTO audit_log (action, target_id) VALUES ('user.softDeleted', NEW.id);
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER users_soft_delete_revokes BEFORE UPDATE OF deleted_at ON users FOR EACH ROW
  WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL) EXECUTE FUNCTION users_deletion_revokes();
--> statement-breakpoint
CREATE TRIGGER users_delete_revokes AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION users_deletion_revokes();
