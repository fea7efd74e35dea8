#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into a new, empty database.
#
#   createdb -h HOST -U postgres versatools_restored
#   scripts/restore.sh backup.dump postgres://postgres@HOST:5432/versatools_restored
#
# Roles are cluster-wide and are not in the dump: the GRANTs and RLS policies
# name anon, authenticated and service_role, so they must exist before the
# restore (Supabase has them; on plain PostgreSQL pass CREATE_ROLES=1 to
# create the missing ones as the migrations do). Objects end up owned by the
# restoring user (--no-owner): restore as the role Django migrates with.
# The whole restore is one transaction: it either lands completely or not at all.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 FILE DATABASE_URL" >&2
    exit 2
fi
file=$1 url=$2
case "$url" in
    *pgbouncer=true*) echo "Restore through the direct URL, not the pooler." >&2; exit 2 ;;
esac

tables=$(psql "$url" -Atqc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [ "$tables" != "0" ]; then
    echo "Refusing to restore: the target database already has $tables table(s) in public; restore into a new database." >&2
    exit 1
fi

missing=$(psql "$url" -Atqc "SELECT string_agg(r, ' ') FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) AS r
                            WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)")
if [ -n "$missing" ]; then
    if [ "${CREATE_ROLES:-0}" != "1" ]; then
        echo "Missing roles (cluster-wide, not in the dump): $missing. Create them first, or rerun with CREATE_ROLES=1." >&2
        exit 1
    fi
    for role in $missing; do
        extra=""
        [ "$role" = service_role ] && extra="BYPASSRLS"
        psql "$url" -qc "CREATE ROLE $role NOLOGIN NOINHERIT $extra"
        echo "Created role $role."
    done
fi

pg_restore --no-owner --exit-on-error --single-transaction --dbname="$url" "$file"
# pg_restore does not carry planner statistics.
psql "$url" -qc "ANALYZE"
echo "Restored $file: $(psql "$url" -Atqc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") tables, $(psql "$url" -Atqc "SELECT count(*) FROM pg_policies WHERE schemaname = 'public'") RLS policies."
