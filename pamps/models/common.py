"""Schemas shared by every router."""

from sqlmodel import SQLModel

from pamps.errors import ErrorMessage

__all__ = ["ErrorMessage", "Health"]


class Health(SQLModel):
    status: str
    database: str
