"""Rendering: endpoints validate their output against the documented schema and return bytes.

Returning a Response skips FastAPI's second serialisation pass; the schema named in
`response_model` still documents the body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, get_args

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy import Boolean, DateTime, Enum, TypeDecorator, Uuid
from sqlalchemy.types import TypeEngine

from mailfleet.kit.schemas import Page

JSON = "application/json"

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]


# Marks a response that carries a secret: no cache may keep it, and the idempotency store
# keeps it only encrypted.
NO_STORE = {"Cache-Control": "no-store"}
# Field names that hold a secret wherever they appear in a response schema.
SECRET_FIELDS = frozenset({"password", "app_password", "totp_secret", "secret", "key", "token"})


@cache
def carries_secret(schema: type[BaseModel]) -> bool:
    """Whether the schema, or one nested in it, has a field named as a secret."""
    for name, field in schema.model_fields.items():
        if name in SECRET_FIELDS:
            return True
        if any(carries_secret(model) for model in _models_in(field.annotation)):
            return True
    return False


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def render(
    schema: type[BaseModel], obj: Any, status: int = 200, *, secret: bool = False
) -> Response:
    """The body as `schema` renders it; `no-store` when it carries a secret (named or flagged)."""
    body = schema.model_validate(obj, from_attributes=True).model_dump_json()
    secret = secret or carries_secret(schema)
    return Response(body, status_code=status, media_type=JSON, headers=NO_STORE if secret else None)


def render_page(schema: type[BaseModel], items: Any, next_cursor: str | None) -> Response:
    page = Page[schema].model_validate(  # type: ignore[valid-type]
        {"items": items, "next_cursor": next_cursor}, from_attributes=True
    )
    return Response(page.model_dump_json(), media_type=JSON)


# Turns one raw driver value (never None) into the JSON value its response schema renders.
Converter = Callable[[Any], Any]


class RowRenderer:
    """Renders rows of raw driver values as JSON objects, exactly as the Pydantic schema would.

    For hot list endpoints: validating rows into models and dumping them cost more than the
    query. `fields` maps each JSON key, in schema order, to the type of its column; the values
    are those the driver returns for that column type on `dialect` (SQLite keeps UUIDs as hex
    and timestamps as text, PostgreSQL hands back objects). Tests compare the output with the
    schema's own rendering on both backends.
    """

    def __init__(self, fields: Mapping[str, TypeEngine[Any]], dialect: str) -> None:
        self._names = tuple(fields)
        converters = (_converter(type_, dialect) for type_ in fields.values())
        self._conversions = tuple(
            (index, convert) for index, convert in enumerate(converters) if convert is not None
        )

    def items(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        # Column by column: one comprehension per converted column beats a loop per value.
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        if not columns:
            return []
        for index, convert in self._conversions:
            columns[index] = [None if value is None else convert(value) for value in columns[index]]
        names = self._names
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]

    def page(self, rows: Sequence[Sequence[Any]], next_cursor: str | None) -> Response:
        body = to_json({"items": self.items(rows), "next_cursor": next_cursor})
        return Response(body, media_type=JSON)


def _converter(type_: TypeEngine[Any], dialect: str) -> Converter | None:
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    sqlite = dialect == "sqlite"
    if isinstance(type_, Uuid):
        return _dashed_hex if sqlite else str
    if isinstance(type_, DateTime):
        # Both backends store UTC (see models.base.UTCDateTime); SQLite stores it as naive text.
        return _sqlite_utc_timestamp if sqlite else _utc_timestamp
    if isinstance(type_, Boolean):
        return bool
    if isinstance(type_, Enum) and type_.enum_class is not None:
        # Stored by member name; the schema shows the member's value.
        values = {member.name: member.value for member in type_.enum_class}
        if any(name != value for name, value in values.items()):
            return values.__getitem__
    return None


def _dashed_hex(value: str) -> str:
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def _sqlite_utc_timestamp(value: str) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff'; Pydantic leaves a zero fraction out.
    if value.endswith(".000000"):
        value = value[:-7]
    return f"{value[:10]}T{value[11:]}Z"


def _utc_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
