#!/usr/bin/env bash
# Started by Playwright (playwright.config.ts, webServer): a real Pamps on a
# throw-away database of BACKEND (sqlite | postgresql), serving the built UI
# on PORT. The database is dropped when Playwright stops the server.
set -euo pipefail
backend=$1
port=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
case ${PAMPS_VENV:-.venv} in
/*) venv=$PAMPS_VENV ;;
*) venv="$root/${PAMPS_VENV:-.venv}" ;;
esac
py="$venv/bin/python"
pamps="$venv/bin/pamps"
work=$(mktemp -d)
server=""
pg_url=""

cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    if [ -n "$pg_url" ]; then
        (cd "$root" && "$py" - "$PG_SERVER" "${pg_url##*/}" <<'PY') || echo "serve.sh: could not drop ${pg_url##*/}" >&2
import sys, psycopg
from tests.pgserver import to_libpq
with psycopg.connect(to_libpq(sys.argv[1]), autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
PY
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' TERM INT

export PAMPS_ENV=testing
export PAMPS_WEB__DIST_DIR="$root/frontend/dist"
if [ "$backend" = postgresql ]; then
    PG_SERVER=${PAMPS_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
    name="pamps_e2e_$$_$RANDOM"
    (cd "$root" && "$py" - "$PG_SERVER" "$name" <<'PY')
import sys, psycopg
from tests.pgserver import to_libpq
with psycopg.connect(to_libpq(sys.argv[1]), autocommit=True) as conn:
    conn.execute(f'CREATE DATABASE "{sys.argv[2]}"')
PY
    pg_url=$(cd "$root" && "$py" -c 'import sys; from tests.pgserver import with_database; print(with_database(sys.argv[1], sys.argv[2]))' "$PG_SERVER" "$name")
    export PAMPS_DB__URI=$pg_url
else
    export PAMPS_DB__URI="sqlite:///$work/pamps.db"
fi
cd "$work"
"$pamps" migrate >/dev/null
"$pamps" serve --host 127.0.0.1 --port "$port" --no-access-log &
server=$!
wait "$server"
