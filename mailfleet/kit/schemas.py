from __future__ import annotations

import re
import uuid
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it at the edge on every backend alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.lower()
    if "\x00" in value or not _EMAIL.match(value):
        raise ValueError("must be an email address")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=320),
    AfterValidator(_email),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_nul),
]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class ResponseSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FieldErrorSchema(BaseModel):
    field: str
    code: str
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    instance: str
    field: str | None = None
    errors: list[FieldErrorSchema] = Field(default_factory=list)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class Deleted(BaseModel):
    id: uuid.UUID
    deleted: bool = True
