#!/usr/bin/env bash
# Runs the suite with Pamps' runtime requirements at the lowest versions
# requirements.in allows (uv's lowest-direct resolution), in a virtualenv of
# its own, so the declared ranges are ranges the suite runs on. The README's
# test command runs it after the main suite; arguments go to pytest.
source "$(dirname "$0")/bootstrap.sh"
install requirements-dev.txt
LOWEST=${PAMPS_LOWEST_VENV:-.venv-lowest}
lock="$LOWEST/requirements-lowest.txt"
[ -x "$LOWEST/bin/python" ] || uv venv --quiet --python "$VENV/bin/python" "$LOWEST"
uv pip compile --quiet --resolution lowest-direct --python "$LOWEST/bin/python" \
    --no-header --output-file "$lock" requirements.in
uv pip install --quiet --python "$LOWEST/bin/python" -r "$lock"
# The test tools at their usual versions, never moving a runtime package.
uv pip freeze --python "$VENV/bin/python" |
    grep -iE '^(pytest|pytest-xdist|execnet|httpx|httpcore|schemathesis|hypothesis|redis|mastodon-py|toot|jsonschema|kubernetes-validate)==' \
        >"$LOWEST/tools.txt"
uv pip install --quiet --python "$LOWEST/bin/python" -c "$lock" -r "$LOWEST/tools.txt"
uv pip install --quiet --python "$LOWEST/bin/python" --no-deps -e .
echo "pamps: the suite at the lowest allowed versions:" \
    "$(grep -iE '^(fastapi|sqlalchemy|sqlmodel|psycopg|pydantic|starlette)==' "$lock" | tr '\n' ' ')" >&2
exec "$LOWEST/bin/python" -m pytest -q -p no:cacheprovider -n 2 "$@"
