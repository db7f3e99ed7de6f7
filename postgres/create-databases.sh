#!/bin/sh
# Creates each database named in POSTGRES_DBS (comma-separated, e.g.
# "pamps,pamps_test") that does not exist yet. The postgres image runs it
# once, on the first start with an empty data directory.
set -eu
set -f  # no globbing of the names

for name in $(printf '%s' "${POSTGRES_DBS:-}" | tr ',' ' '); do
    echo "create-databases.sh: ensuring database \"$name\""
    # %I quotes the name; \gexec runs the CREATE only when the SELECT returns it.
    psql -v ON_ERROR_STOP=1 -v name="$name" \
        --username "${POSTGRES_USER:-postgres}" \
        --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" <<'SQL'
SELECT format('CREATE DATABASE %I', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SQL
done
