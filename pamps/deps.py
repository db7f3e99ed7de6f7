"""Dependencies that hand the application's resources to routes.

The resources are created in the application's lifespan (:mod:`pamps.app`)
and held by it, one set per worker: the database and the rate limiter.
"""

from typing import Annotated

from fastapi import Depends, Request

from pamps.database import Database, Row
from pamps.middleware import note_request_user
from pamps.ratelimit import RateLimiter


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


DatabaseDep = Annotated[Database, Depends(get_database)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def note_user(user: Row) -> Row:
    """``user``, named as the request's user in its log record (JSON logs)."""
    note_request_user(int(user["id"]))
    return user
