-- The session settings the API sends at connect (db/client.ts SESSION_SETTINGS), also as
-- this database's defaults: behind a transaction pooler (DATABASE_POOLER=transaction) the
-- API cannot send them, and every server connection the pooler opens gets them from here
-- (docs/decisions/transaction-pooler.md). Needs the database's owner; without that right
-- it says so and the operator runs the three ALTER DATABASE lines by hand.
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET statement_timeout = %L', current_database(), '30s');
  EXECUTE format('ALTER DATABASE %I SET lock_timeout = %L', current_database(), '10s');
  EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = %L', current_database(), '60s');
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'not the owner of database %: set statement_timeout, lock_timeout and idle_in_transaction_session_timeout as its defaults by hand (docs/operations.md)', current_database();
END
$$;
