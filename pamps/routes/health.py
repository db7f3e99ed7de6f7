"""Liveness and database reachability."""

from fastapi.responses import JSONResponse
from sqlalchemy import literal, select
from sqlalchemy.exc import SQLAlchemyError

from pamps.deps import DatabaseDep
from pamps.models.common import ErrorMessage, Health
from pamps.routing import SectionRouter

router = SectionRouter(tags=["operations"])
PING = select(literal(1))  # a Select: run again if its connection was dead


@router.get(
    "/health",
    response_model=Health,
    summary="Health check",
    responses={503: {"model": ErrorMessage, "description": "Database unreachable"}},
)
async def health(db: DatabaseDep) -> Health | JSONResponse:
    """200 when the service and its database answer, 503 while the database does not."""
    try:
        await db.first(PING)
    except SQLAlchemyError:
        return JSONResponse(
            {"detail": "Database unreachable", "status": "error", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return Health(status="ok", database="ok")
