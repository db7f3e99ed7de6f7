"""Graceful shutdown under load: ``pamps serve`` on PostgreSQL gets a SIGTERM
while clients keep sending requests, logins among them (real Argon2 costs,
queued in the in-flight limit); every request it had accepted is answered,
new connections are refused meanwhile, and it exits 0 within
``server.shutdown_timeout``, its pools closed.

Just before the signal the clients open no new connection for a moment, as
a load balancer stops sending to a host it is about to stop (the deployment
files' preStop pause): a connection the kernel completed but the server had
not yet taken from the listen queue when the listener closes is reset by
the kernel, and no server can answer it. Requests already sent are in
flight throughout."""

import asyncio
import json
import signal
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from tests.live import LiveServer, live_process

BOUND = 10  # server.shutdown_timeout, seconds
CLIENTS = 18  # two in three log in: a queue of logins outlasts the signal
QUIET = 0.2  # seconds without new connections before the signal
PASSWORD = "correct horse battery"


@dataclass
class Outcome:
    kind: str
    connected: float | None  # when its TCP connection was made
    done: float
    status: int | None = None
    error: str | None = None


async def drive(live: LiveServer) -> tuple[list[Outcome], float, float | None, float]:
    """Steady load, a SIGTERM after a second of it; returns every request's
    outcome, when the signal was sent, when a new connection was first
    refused, and when the process had exited."""
    outcomes: list[Outcome] = []
    stop = asyncio.Event()
    may_connect = asyncio.Event()
    may_connect.set()
    login = {"username": "steady", "password": PASSWORD}
    # No keep-alive: each request on a connection of its own, so "accepted"
    # is "connected"; an idle kept-alive connection the server closes while a
    # request is on its way is HTTP's known race, not a lost request.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=live.url, limits=limits, timeout=BOUND + 5) as http:

        async def one(kind: str) -> None:
            connected: float | None = None

            async def trace(event: str, info: object) -> None:
                nonlocal connected
                if event == "connection.connect_tcp.complete":
                    connected = time.monotonic()

            extensions = {"trace": trace}
            try:
                if kind == "login":
                    answer = await http.post("/token", data=login, extensions=extensions)
                else:
                    answer = await http.get("/post/", extensions=extensions)
            except httpx.HTTPError as error:
                outcomes.append(Outcome(kind, connected, time.monotonic(), error=repr(error)))
                await asyncio.sleep(0.05)  # refused: do not spin
            else:
                outcomes.append(Outcome(kind, connected, time.monotonic(), answer.status_code))

        async def client(number: int) -> None:
            while not stop.is_set():
                await may_connect.wait()
                await one("login" if number % 3 else "home")

        clients = [asyncio.create_task(client(number)) for number in range(CLIENTS)]
        try:
            await asyncio.sleep(1)
            may_connect.clear()
            await asyncio.sleep(QUIET)
            terminated = time.monotonic()
            live.process.send_signal(signal.SIGTERM)
            may_connect.set()
            refused = None
            address = urlsplit(live.url)
            while live.process.poll() is None and time.monotonic() < terminated + BOUND + 5:
                if refused is None:
                    try:
                        _, writer = await asyncio.open_connection(address.hostname, address.port)
                    except ConnectionRefusedError:
                        refused = time.monotonic()
                    except OSError:  # reset while the listener closed: try again
                        pass
                    else:
                        writer.close()
                await asyncio.sleep(0.02)
            exited = time.monotonic()
        finally:
            stop.set()
            await asyncio.gather(*clients)
    return outcomes, terminated, refused, exited


@pytest.mark.postgres_only
def test_sigterm_under_load_answers_every_accepted_request(database_url: str) -> None:
    env = {
        "PAMPS_SERVER__SHUTDOWN_TIMEOUT": str(BOUND),
        # Argon2 costs above production's minimum: logins take a while and queue
        # long enough to outlast the signal on a fast machine too.
        "PAMPS_SECURITY__ARGON2_TIME_COST": "6",
        "PAMPS_SECURITY__ARGON2_MEMORY_COST": "19456",
        "PAMPS_RATELIMIT__ENABLED": "false",
        "PAMPS_LOGGING__FORMAT": "json",
    }
    with live_process(database_url, env=env, cli=True, access_log=True) as live:
        user = {"username": "steady", "email": "steady@example.com", "password": PASSWORD}
        assert httpx.post(f"{live.url}/user/", json=user, timeout=10).status_code == 201
        outcomes, terminated, refused, exited = asyncio.run(drive(live))
        assert live.process.returncode == 0, live.log_text()[-2000:]
        log = live.log_text()

    assert exited - terminated < BOUND
    accepted = [o for o in outcomes if o.connected is not None and o.connected < terminated]
    failed = [o for o in accepted if o.status != 200]
    assert not failed, failed
    # The signal came mid-flight: accepted requests were still answered after it...
    finished_later = [o for o in accepted if o.done > terminated]
    assert len(finished_later) >= 2, finished_later
    assert {o.kind for o in accepted} == {"login", "home"}
    # ...and after the listener had closed: new connections were refused
    # while the server was still finishing what it had.
    assert refused is not None and refused < exited
    assert any(o.done > refused for o in accepted)
    # Connections made after the signal: served in full, refused, or (taken
    # by the kernel as the listener closed) reset.
    for late in (o for o in outcomes if o not in accepted):
        assert late.status == 200 or late.error is not None, late
    assert any(o.error and "ConnectError" in o.error for o in outcomes)

    records = [json.loads(line) for line in log.splitlines()]  # every line JSON
    messages = [record["message"] for record in records]
    assert "Shutting down" in messages  # Uvicorn's own lines too
    # The pools closed (the lifespan logs it once they are) after the last
    # request was answered.
    last_request = max(i for i, r in enumerate(records) if r["logger"] == "pamps.access")
    assert messages.index("stopped: connections closed") > last_request
    assert not any(message.startswith("Cancel ") for message in messages)  # within the bound
    answered = [r for r in records if r["logger"] == "pamps.access" and r["route"] == "/token"]
    assert len(answered) == sum(1 for o in outcomes if o.kind == "login" and o.status == 200)
