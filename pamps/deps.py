"""Dependencies that hand the application's resources to routes.

The resources are created in the application's lifespan (:mod:`pamps.app`)
and held by it, one set per worker: the database (with its read replicas,
if any) and the rate limiter.
"""

from typing import Annotated

from fastapi import Depends, Request

from pamps.database import Database, Row, Runner
from pamps.middleware import note_request_user
from pamps.ratelimit import RateLimiter


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_read_database(request: Request) -> Runner:
    """Where an anonymous read of lists, posts and profiles runs: a read
    replica when ``db.replicas`` has a usable one, which may be up to
    ``db.replica_max_lag_seconds`` behind. A request with credentials reads
    the primary, so people see their own writes at once."""
    replicas: Runner | None = getattr(request.app.state, "replicas", None)
    if replicas is None or "authorization" in request.headers:
        return await get_database(request)
    return replicas


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


DatabaseDep = Annotated[Database, Depends(get_database)]
ReadDatabaseDep = Annotated[Runner, Depends(get_read_database)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def note_user(user: Row) -> Row:
    """``user``, named as the request's user in its log record (JSON logs)."""
    note_request_user(int(user["id"]))
    return user
