#!/bin/bash
# `bench/admin-users-compare.sh <before-commit> [users]`: admin.users.list before and after in one
# run, on the same seeded database (run `npm run bench:admin-users -- --users N` once first to seed it).
# Before: the code of <before-commit> (git archive into a temporary directory, this checkout's
# node_modules) with the indexes of the migrations before 0013; after: this checkout with migration 0013's indexes.
set -euo pipefail
BEFORE=${1:?usage: bench/admin-users-compare.sh <before-commit> [users]}
USERS=${2:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB="psql ${BASE%/*}/manas360_admin_users_${USERS} -q -v ON_ERROR_STOP=1"
export PATH="$("$ROOT/scripts/node24.sh"):$PATH"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
git -C "$ROOT" archive "$BEFORE" | tar -x -C "$TMP"
ln -s "$ROOT/node_modules" "$TMP/node_modules"
INDEXES="users_role_email_idx, users_role_name_idx, users_suspended_email_idx, users_suspended_name_idx, subscriptions_active_plan_user_idx"

echo "== before: $BEFORE, indexes of the migrations before 0013"
$DB -c "DROP INDEX IF EXISTS $INDEXES" \
  -c "ALTER INDEX users_email_trgm_idx SET (fastupdate = on)" -c "ALTER INDEX users_name_trgm_idx SET (fastupdate = on)" \
  -c "VACUUM (ANALYZE) users" -c "VACUUM (ANALYZE) subscriptions"
(cd "$TMP" && npx tsx bench/admin-users.ts --users "$USERS" 2>/dev/null)

echo "== after: this checkout, indexes of migration 0013"
grep '^CREATE INDEX "\(users_role_\|users_suspended_\|subscriptions_active\)' "$ROOT"/migrations/*_admin_users_list_indexes.sql |
  sed 's/--> statement-breakpoint//' | $DB -f -
$DB -c "ALTER INDEX users_email_trgm_idx SET (fastupdate = off)" -c "ALTER INDEX users_name_trgm_idx SET (fastupdate = off)" \
  -c "VACUUM (ANALYZE) users" -c "VACUUM (ANALYZE) subscriptions"
(cd "$ROOT" && npx tsx bench/admin-users.ts --users "$USERS" 2>/dev/null)
