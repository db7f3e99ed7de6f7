"""Dependencies that hand the application's resources to routes.

The resources are created in the application's lifespan (:mod:`pamps.app`)
and held by it, one set per worker: the database and the rate limiter.
"""

from typing import Annotated

from fastapi import Depends, Request

from pamps.database import Database
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
