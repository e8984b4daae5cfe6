"""Keyset pagination over time-ordered ids: newest first, no OFFSET, stable under inserts."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import InstrumentedAttribute

from mailfleet.exceptions import BadRequest

T = TypeVar("T")

CursorParam = Annotated[
    str | None,
    Query(description="Opaque cursor from a previous page's next_cursor.", max_length=64),
]


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, TypeError) as exc:
        raise BadRequest(
            "The cursor is not one this API issued.", code="invalid_cursor", field="cursor"
        ) from exc


def paginate(
    statement: Select[Any],
    id_column: InstrumentedAttribute[uuid.UUID],
    cursor: str | None,
    limit: int,
) -> Select[Any]:
    """Newest first; fetch one extra row to know whether there is a next page."""
    if cursor:
        statement = statement.where(id_column < decode_cursor(cursor))
    return statement.order_by(id_column.desc()).limit(limit + 1)


# Bind parameters of `keyset`, filled by `keyset_params`.
AFTER = "keyset_after"
PAGE_SIZE = "keyset_page_size"


def keyset(
    statement: Select[Any], id_column: InstrumentedAttribute[uuid.UUID], *, after: bool
) -> Select[Any]:
    """`paginate` for a statement built once and run many times: cursor and size are parameters."""
    if after:
        statement = statement.where(id_column < bindparam(AFTER))
    return statement.order_by(id_column.desc()).limit(bindparam(PAGE_SIZE))


def keyset_params(cursor: str | None, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {PAGE_SIZE: limit + 1}
    if cursor:
        params[AFTER] = decode_cursor(cursor)
    return params


def split_page(rows: Sequence[T], limit: int, id_of: Any) -> tuple[Sequence[T], str | None]:
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(id_of(rows[-1]))
    return rows, None


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards escaped (use escape="\\")."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def numbered_page(
    session: Any, statement: Select[Any], *, page: int, limit: int, scalars: bool = True
) -> tuple[list[Any], int]:
    """Page `page` (from 1) of `limit` rows of an ordered `statement`, and how many rows the
    statement has in all: for APIs that page by number (the compat surfaces). Two queries: a
    count over the statement without its ordering, and the page by OFFSET."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    window = statement.offset((page - 1) * limit).limit(limit)
    rows = list(session.scalars(window)) if scalars else list(session.execute(window))
    return rows, int(total or 0)
