#!/usr/bin/env bash
# Sets everything up and runs the API on the embedded SQLite default:
#   bash scripts/run-api.sh        → http://127.0.0.1:8000/docs
# Extra arguments go to `pamps serve` (e.g. --port 8080, --reload).
source "$(dirname "$0")/bootstrap.sh"
install requirements.txt
pamps migrate
exec pamps serve "$@"
