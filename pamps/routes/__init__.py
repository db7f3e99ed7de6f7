"""Every router, mounted in one place."""

from fastapi import APIRouter

from pamps.routes.auth import router as auth_router
from pamps.routes.health import router as health_router
from pamps.routes.post import router as post_router
from pamps.routes.user import router as user_router

main_router = APIRouter()
main_router.include_router(auth_router)
main_router.include_router(user_router, prefix="/user", tags=["user"])
main_router.include_router(post_router, prefix="/post", tags=["post"])
main_router.include_router(health_router)
