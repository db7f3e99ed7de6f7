#!/usr/bin/env bash
# The web app's tests: lint, type check against the API's current OpenAPI,
# production build, Vitest unit tests, then Playwright end-to-end tests in
# Debian's Chromium against a real Pamps on SQLite and on PostgreSQL.
#   bash scripts/run-web-tests.sh            (arguments go to Playwright)
# Needs the project's .venv (scripts/run-tests.sh or run-api.sh makes it),
# Node.js 20.19+ and npm. Installs Debian's chromium when /usr/bin/chromium
# is missing (as root, or with sudo). PostgreSQL is taken from
# PAMPS_TEST_DATABASE_URL, else 127.0.0.1:5432; without one that half is
# skipped, unless PAMPS_TEST_REQUIRE_POSTGRES=1 makes it a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS
VENV=${PAMPS_VENV:-.venv}
case $VENV in /*) ;; *) VENV="$root/$VENV" ;; esac
export PAMPS_VENV=$VENV

say() { echo "web-tests: [$((SECONDS - started)) s] $*" >&2; }

if [ ! -x "$VENV/bin/pamps" ]; then
    say "$VENV/bin/pamps is missing: run scripts/run-tests.sh or scripts/run-api.sh first"
    exit 1
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    say "Node.js 20.19+ and npm are required for the web app's tests"
    exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    say "Node.js 20.19 or newer is required (found $(node --version))"
    exit 1
fi

export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
if [ ! -x "$CHROME_PATH" ]; then
    say "installing Debian's chromium"
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo=sudo; else
        say "cannot install chromium: not root and no sudo (apt-get install chromium)"
        exit 1
    fi
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >/dev/null
fi

cd frontend
# Nothing may download a browser: Playwright drives Debian's chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp=node_modules/.pamps-lock.sha256
digest=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$digest" >"$stamp"
fi

say "lint and format check"
npm run --silent lint
say "API contract: the UI against the API's current OpenAPI"
npm run --silent check:api
say "production build"
npm run --silent build
say "unit tests (Vitest)"
npx vitest run --reporter=dot

backends=sqlite
pg_server=${PAMPS_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
if (cd "$root" && "$VENV/bin/python" -c 'import sys; from tests.pgserver import reachable; sys.exit(0 if reachable(sys.argv[1]) else 1)' "$pg_server"); then
    backends="sqlite postgresql"
elif [ "${PAMPS_TEST_REQUIRE_POSTGRES:-}" != "" ] && [ "${PAMPS_TEST_REQUIRE_POSTGRES}" != 0 ] && [ "${PAMPS_TEST_REQUIRE_POSTGRES}" != false ]; then
    say "PostgreSQL is required but none is reachable at $pg_server"
    exit 1
else
    say "no PostgreSQL reachable at $pg_server: end-to-end tests on SQLite only"
fi
say "end-to-end tests (Playwright, $CHROME_PATH) on: $backends"
PAMPS_E2E_BACKENDS=$backends npx playwright test "$@"

say "UI tests passed in $((SECONDS - started)) s"
