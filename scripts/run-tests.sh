#!/usr/bin/env bash
# Sets everything up and runs every test:
#   bash scripts/run-tests.sh      the layers' contract (lint-imports), the
#                                  suite on SQLite and PostgreSQL, the web
#                                  app's unit and end-to-end tests
#                                  (scripts/run-web-tests.sh, Node 20), and
#                                  the suite again at the lowest allowed
#                                  versions (scripts/check-lowest.sh)
#   bash scripts/run-tests.sh -k login -x    pytest alone, with these arguments
# PostgreSQL comes from PAMPS_TEST_DATABASE_URL, else 127.0.0.1:5432, else a
# private cluster when PostgreSQL's binaries are installed; otherwise that
# half is skipped with the reason shown (a failure when
# PAMPS_TEST_REQUIRE_POSTGRES=1, as in CI).
source "$(dirname "$0")/bootstrap.sh"
install requirements-dev.txt
if [ $# -gt 0 ]; then
    exec python -m pytest "$@"
fi
started=$SECONDS
lint-imports
python -m pytest
echo "pamps: the suite took $((SECONDS - started)) s" >&2
if command -v node >/dev/null 2>&1 || [ -n "${PAMPS_TEST_REQUIRE_WEB:-}" ]; then
    bash scripts/run-web-tests.sh
else
    echo "pamps: Node.js not found: the web app's tests are skipped (install Node 20)" >&2
fi
echo "pamps: with the web app's tests, $((SECONDS - started)) s" >&2
bash scripts/check-lowest.sh
echo "pamps: with the lowest versions, $((SECONDS - started)) s in all" >&2
