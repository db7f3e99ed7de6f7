"""Logging in: checking a password, counting failures."""

from fastapi.concurrency import run_in_threadpool

from pamps.database import Row, Runner
from pamps.errors import Unauthorized
from pamps.metrics import LOGIN_FAILURE, LOGIN_SUCCESS
from pamps.ratelimit import RateLimiter
from pamps.security import dummy_verify, verify_password
from pamps.services import users

MAX_LOGIN_NAME = 254
MAX_PASSWORD = 1024


async def authenticate(db: Runner, user: Row | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s.

    Unknown users (None) cost one hash verification too, so timing does not
    tell who has an account. A bcrypt hash from the workshop is replaced with
    an Argon2 one once it has verified. Hashing keeps a core busy for
    milliseconds: it runs in the threadpool, never on the event loop.
    """
    if user is None:
        await run_in_threadpool(dummy_verify, password)
        return False
    valid, new_hash = await run_in_threadpool(verify_password, password, user["password"])
    if valid and new_hash is not None:
        await users.set_password_hash(db, int(user["id"]), new_hash)
    return bool(valid)


async def login(db: Runner, limiter: RateLimiter, name: str, password: str, address: str) -> Row:
    """The user a username (or email) and password name; Unauthorized otherwise.

    Failures are counted per account *and* client address (an account is
    the same whether named by username, in any case, or by email; names of
    no account are counted as given), and per address across accounts. So a
    flood of wrong passwords from one address refuses that address, and
    never the owner logging in from another one; the price is that each
    address gets its own guesses at an account (docs/security.md)."""
    target = await users.find_login(db, name[:MAX_LOGIN_NAME])
    account = f"id:{target['id']}" if target else name.lower()[:MAX_LOGIN_NAME]
    await limiter.check("login", "account", account, "address", address)
    await limiter.check("login_per_address", "address", address)
    valid = await authenticate(db, target, password[:MAX_PASSWORD])
    if target is None or not valid:
        await limiter.hit("login", "account", account, "address", address)
        await limiter.hit("login_per_address", "address", address)
        LOGIN_FAILURE.inc()
        raise Unauthorized("Incorrect username or password")
    LOGIN_SUCCESS.inc()
    return target
