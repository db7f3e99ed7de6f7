"""Schemas shared by every router."""

from typing import Any

from sqlmodel import SQLModel


class ErrorMessage(SQLModel):
    detail: Any


class Health(SQLModel):
    status: str
    database: str
