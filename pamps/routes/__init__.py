"""Every router, mounted in one place."""

from fastapi import FastAPI

from pamps.routes.auth import router as auth_router
from pamps.routes.health import router as health_router
from pamps.routes.post import router as post_router
from pamps.routes.user import router as user_router


def include_routers(app: FastAPI) -> None:
    """Mount every router on ``app`` directly: each level of nested routers
    is matched again on every request."""
    app.include_router(auth_router)
    app.include_router(user_router, prefix="/user", tags=["user"])
    app.include_router(post_router, prefix="/post", tags=["post"])
    app.include_router(health_router)
