#!/usr/bin/env bash
# Sets everything up and runs the whole test suite:
#   bash scripts/run-tests.sh      (arguments go to pytest, e.g. -k login -x)
# Every test runs on SQLite and on PostgreSQL. PostgreSQL comes from
# PAMPS_TEST_DATABASE_URL, else 127.0.0.1:5432, else a private cluster when
# PostgreSQL's binaries are installed; otherwise that half is skipped with
# the reason shown (a failure when PAMPS_TEST_REQUIRE_POSTGRES=1, as in CI).
source "$(dirname "$0")/bootstrap.sh"
install requirements-dev.txt
exec python -m pytest "$@"
