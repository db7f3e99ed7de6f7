"""Settings read on every request (``pamps.config.setting``): each value is
remembered until the settings change, and the API answers the same with
``server.remember_settings`` off, when every read goes to Dynaconf."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pamps import config
from pamps.config import setting, settings
from tests.conftest import TestUser, setting_as

MakeUser = Callable[..., TestUser]
MakePost = Callable[..., dict[str, Any]]


@pytest.fixture(params=[True, False], ids=["remembered", "read-each-time"])
def remember(request: pytest.FixtureRequest) -> Iterator[bool]:
    with setting_as("server.remember_settings", request.param):
        yield request.param


@pytest.fixture
def max_length() -> Iterator[None]:
    """posts.max_length restored after the test."""
    with setting_as("posts.max_length", settings.posts.max_length):
        yield


def test_a_dotted_path_reads_what_dynaconf_says(remember: bool) -> None:
    assert setting("posts.max_length") == settings.posts.max_length
    assert setting("security.algorithm") == settings.security.algorithm
    assert setting("db.fold_session_check") is settings.db.fold_session_check
    with pytest.raises(KeyError):
        setting("posts.no_such_setting")


def test_remembered_only_when_asked(remember: bool) -> None:
    setting("posts.max_length")
    assert ("posts.max_length" in config._remembered) is remember


def set_value(value: int) -> None:
    settings.set("posts.max_length", value)


def update_value(value: int) -> None:
    settings.update({"posts": {"max_length": value}}, merge=True)


def assign_attribute(value: int) -> None:
    settings.POSTS = {"max_length": value, "idempotency_hours": 24}


@pytest.mark.parametrize("change", [set_value, update_value, assign_attribute])
def test_a_change_is_read_at_once(
    remember: bool, max_length: None, change: Callable[[int], None]
) -> None:
    assert setting("posts.max_length") == settings.posts.max_length
    change(7)
    assert setting("posts.max_length") == 7
    change(8)
    assert setting("posts.max_length") == 8


def test_an_unset_value_is_gone_at_once(remember: bool) -> None:
    settings.set("extra", {"value": 1})
    assert setting("extra.value") == 1
    settings.unset("extra", force=True)
    with pytest.raises(KeyError):
        setting("extra.value")


@pytest.mark.usefixtures("remember", "max_length")
def test_the_api_answers_a_change_at_once(
    client: TestClient, make_user: MakeUser, make_post: MakePost
) -> None:
    """The same answers whether reads are remembered or not: a post, a like,
    the token's checks, and a post length changed between two requests."""
    alice, bob = make_user(), make_user()
    post = make_post(alice, "twelve chars")
    liked = client.post(f"/post/{post['id']}/like/", headers=bob.headers)
    assert liked.status_code == 201, liked.text
    assert client.get("/post/", headers=bob.headers).json()[0]["likes_count"] == 1
    settings.set("posts.max_length", 10)
    refused = client.post("/post/", json={"text": "twelve chars"}, headers=bob.headers)
    assert refused.status_code == 422
    assert "at most 10 characters" in refused.text
    settings.set("posts.max_length", 12)
    assert client.post("/post/", json={"text": "twelve chars"}, headers=bob.headers).is_success
    assert client.post("/post/", headers={"Authorization": "Bearer x"}, json={}).status_code == 401
