"""Liveness and database reachability."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from pamps.db import get_async_engine
from pamps.models.common import ErrorMessage, Health

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    response_model=Health,
    summary="Health check",
    responses={503: {"model": ErrorMessage, "description": "Database unreachable"}},
)
async def health() -> Health | JSONResponse:
    """200 when the service and its database answer, 503 while the database does not."""
    try:
        async with get_async_engine().connect() as connection:
            await connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse(
            {"detail": "Database unreachable", "status": "error", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return Health(status="ok", database="ok")
