"""Contract fuzzing: schemathesis over every operation of ``/openapi.json``.

Each operation is called over HTTP on a live server (tests/live.py), once
per database backend, with a valid bearer token (a user registered and logged in by the
``fuzz_user`` fixture), and every response is checked: no 5xx, a status
code the OpenAPI document lists for the operation, a body matching the
documented schema, the documented content type and headers.

The run is derandomized (the same cases every time, so CI is reproducible)
and kept short: ``PAMPS_FUZZ_EXAMPLES`` examples per operation in the fuzzing
phase (default 15), on top of schemathesis' explicit examples and coverage
cases. The long run::

    PAMPS_FUZZ_EXAMPLES=500 .venv/bin/pytest tests/test_contract.py

``--backend sqlite`` or ``--backend postgresql`` narrows it to one database;
``--junitxml`` records each operation's case count as its ``examples``
property. Anonymous calls are covered by
tests/test_payloads.py::TestOpenApi (every protected operation answers a
documented 401 without a token).
"""

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from pamps.app import app
from tests.live import live_server

if TYPE_CHECKING:
    from tests.conftest import TestUser

FUZZ_EXAMPLES = int(os.environ.get("PAMPS_FUZZ_EXAMPLES", "15"))

schema = schemathesis.openapi.from_dict(app.openapi())

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    st_checks.response_headers_conformance,
]


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[str]:
    """A live Pamps on the backend's database, for the whole run."""
    with live_server(database_url) as url:
        yield url


@pytest.fixture
def fuzz_user(
    make_user: Callable[..., "TestUser"], make_post: Callable[..., dict[str, Any]]
) -> "TestUser":
    """A registered user whose access token every fuzzed request carries.

    It owns a post and follows a second user, so the small ids the coverage
    phase tries (the schema's minimum, 1) reach real objects, not only 404s."""
    user = make_user("fuzzer")
    other = make_user("other")
    make_post(user, "a post to edit, like and delete")
    make_post(other, "someone else's post")
    user.client.post(f"/user/follow/{other.id}", headers=user.headers)
    return user


@pytest.fixture
def examples(request: pytest.FixtureRequest) -> Iterator[list[int]]:
    """Counts the cases run for an operation; recorded as the test's
    ``examples`` property (shown in ``--junitxml`` reports)."""
    counter = [0]
    yield counter
    request.node.user_properties.append(("examples", counter[0]))


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_api_contract(
    case: schemathesis.Case, server: str, fuzz_user: "TestUser", examples: list[int]
) -> None:
    examples[0] += 1
    case.call_and_validate(base_url=server, headers=fuzz_user.headers, checks=CHECKS)
