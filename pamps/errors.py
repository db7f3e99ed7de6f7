"""Errors that carry their HTTP status; FastAPI renders them as
``{"detail": ...}``. Routes raise these instead of building responses."""

from typing import Any

from fastapi import HTTPException, status
from sqlmodel import SQLModel


class APIError(HTTPException):
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    detail = "Internal Server Error"

    def __init__(self, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(self.status_code, detail or self.detail, headers)


class BadRequest(APIError):
    status_code = status.HTTP_400_BAD_REQUEST
    detail = "Bad request"


class Unauthorized(APIError):
    status_code = status.HTTP_401_UNAUTHORIZED
    detail = "Could not validate credentials"

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(APIError):
    status_code = status.HTTP_403_FORBIDDEN
    detail = "Not allowed"


class NotFound(APIError):
    status_code = status.HTTP_404_NOT_FOUND
    detail = "Not found"


class Conflict(APIError):
    status_code = status.HTTP_409_CONFLICT
    detail = "Already exists"


class UnprocessableContent(APIError):
    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    detail = "The request cannot be processed"


class TooManyRequests(APIError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    detail = "Too many requests, try again later"


class ServiceUnavailable(APIError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    detail = "Service temporarily unavailable, try again shortly"


class ErrorMessage(SQLModel):
    """The body of every error answer."""

    detail: Any


def responses(*errors: type[APIError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the errors a route can raise."""
    return {
        error.status_code: {"model": ErrorMessage, "description": error.detail} for error in errors
    }
