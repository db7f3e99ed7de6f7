#!/usr/bin/env bash
# Sets everything up and runs the API on the embedded SQLite default:
#   bash scripts/run-api.sh        → http://127.0.0.1:8000/ (web app), /docs (API)
# Extra arguments go to `pamps serve` (e.g. --port 8080, --reload).
# With Node.js and npm present, the web app (frontend/) is built first when
# its build is missing or older than its sources; without them the API
# starts alone.
source "$(dirname "$0")/bootstrap.sh"
install requirements.txt

# build_web: `npm ci` when node_modules is missing or the lock changed, then
# `npm run build` when dist/ is older than any source. Never fatal: a failed
# build leaves the API to start on its own.
build_web() {
    local web=frontend
    [ -f "$web/package.json" ] || return 0
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        if [ ! -f "$web/dist/index.html" ]; then
            echo "pamps: Node.js not found, the web app is not built: serving the API only" >&2
        fi
        return 0
    fi
    local stamp="$web/node_modules/.pamps-lock.sha256" digest
    digest=$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
        echo "pamps: installing the web app's packages (npm ci)" >&2
        (cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) || return 1
        echo "$digest" >"$stamp"
    fi
    local newer=""
    if [ -f "$web/dist/index.html" ]; then
        newer=$(find "$web/src" "$web/public" "$web/index.html" "$web/package-lock.json" \
            "$web/vite.config.ts" "$web/tsconfig.json" -newer "$web/dist/index.html" -print -quit)
    fi
    if [ ! -f "$web/dist/index.html" ] || [ -n "$newer" ]; then
        echo "pamps: building the web app (npm run build)" >&2
        (cd "$web" && npm run --silent build >/dev/null) || return 1
    fi
}
build_web || echo "pamps: the web app could not be built: serving the API only" >&2

pamps migrate
exec pamps serve "$@"
