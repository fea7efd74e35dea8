#!/usr/bin/env bash
# Back up the database to one file: pg_dump's custom format (compressed,
# restorable table by table), without ownership, with GRANTs and RLS policies.
#
#   scripts/backup.sh postgres://user:pw@db.example.com:5432/versatools backup.dump [pg_dump options]
#
# Use the direct URL (DIRECT_URL), never the pooler: pg_dump needs a session.
# On Supabase add `--schema public`: auth, storage and the other schemas are
# Supabase's own and come back with the project, not with this file.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 DATABASE_URL FILE [pg_dump options...]" >&2
    exit 2
fi
url=$1 file=$2
shift 2
case "$url" in
    *pgbouncer=true*) echo "Back up through the direct URL (DIRECT_URL), not the pooler." >&2; exit 2 ;;
esac

# A consistent snapshot of the whole database (pg_dump runs in one
# repeatable-read transaction); write to a temporary name so that a failed
# dump never leaves a truncated file under the real one.
pg_dump --format=custom --no-owner --file="$file.partial" "$@" "$url"
mv "$file.partial" "$file"
echo "Backed up $(pg_restore --list "$file" | grep -c ' TABLE DATA ') tables to $file ($(du -h "$file" | cut -f1))."
