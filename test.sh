#!/usr/bin/env bash
# The workshop's pipeline, for people with Docker (Compose v2):
# up, reset, migrate, pytest, down. Arguments go to pytest: ./test.sh -x -k post
set -euo pipefail
cd "$(dirname "$0")"

# The api works on pamps_test for this run, so the data in pamps is left alone.
export PAMPS_DB=pamps_test

trap 'docker compose down || true' EXIT
trap 'exit 130' INT TERM  # still run the EXIT trap on Ctrl-C

# --wait returns once db, redis and api (migrated and serving) are healthy.
docker compose up -d --build --wait

docker compose exec -T api pamps reset-db -f
docker compose exec -T api pamps migrate

# Tests create and drop their own databases next to pamps_test; PostgreSQL is
# mandatory here. Rate-limit counters stay in memory, per test process.
status=0
docker compose exec -T \
    -e PAMPS_TEST_REQUIRE_POSTGRES=1 \
    -e PAMPS_RATELIMIT__STORAGE_URI=memory:// \
    api pytest -v "$@" || status=$?
exit "$status"
