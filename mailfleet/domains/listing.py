"""The domain list: its parameters, its sort orders and their keyset cursors.

The default order stays newest first (by id, which is time-ordered). `sort` offers the orders a
user reads and submits in: by name (the ASCII form, in byte order on every backend) and by
creation time, each ascending or descending. Every order ends with the id, so it is total and a
page boundary between equal keys loses nothing; the cursor carries the last row's sort key and
id, so the next page starts right after it however many rows arrive meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import Session

from mailfleet.exceptions import BadRequest
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import Domain, DomainStatus, MailboxType


class DomainSort(enum.StrEnum):
    NAME = "name"
    NAME_DESC = "-name"
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")

    @property
    def by_name(self) -> bool:
        return self.value.endswith("name")


SORT_DESCRIPTION = (
    "Order of the list: `name` or `-name` (the ASCII name, byte order), `created_at` or "
    "`-created_at` (submission time; one batch in the order it was submitted). Left out: "
    "newest first. A cursor only continues the order it was issued for."
)

# A sorted cursor holds a name of up to 253 characters, so it is longer than an id cursor.
SortedCursorParam = Annotated[
    str | None,
    Query(description="Opaque cursor from a previous page's next_cursor.", max_length=512),
]


@dataclass(frozen=True)
class DomainQuery:
    """The validated parameters of one list page: what the query reads and the page cache key."""

    workspace_id: uuid.UUID
    statuses: tuple[DomainStatus, ...]
    mailbox_type: MailboxType | None
    text: str | None
    batch_id: uuid.UUID | None
    sort: DomainSort | None
    cursor: str | None
    limit: int

    @classmethod
    def of(
        cls,
        workspace_id: uuid.UUID,
        *,
        statuses: Sequence[DomainStatus] | None,
        mailbox_type: MailboxType | None,
        text: str | None,
        batch_id: uuid.UUID | None,
        sort: DomainSort | None,
        cursor: str | None,
        limit: int,
    ) -> DomainQuery:
        # Canonical: the same statuses in another order or repeated are the same page.
        canonical = tuple(sorted(set(statuses or ()), key=lambda s: s.value))
        return cls(workspace_id, canonical, mailbox_type, text, batch_id, sort, cursor, limit)


def _invalid_cursor() -> BadRequest:
    return BadRequest(
        "The cursor is not one this API issued for this sort order.",
        code="invalid_cursor",
        field="cursor",
    )


def _encode(sort: DomainSort, key: str, last_id: uuid.UUID) -> str:
    raw = json.dumps([sort.value, key, last_id.hex], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(sort: DomainSort, cursor: str) -> tuple[str, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, key, last_id = json.loads(raw)
        if tag != sort.value or not isinstance(key, str):
            raise _invalid_cursor()
        return key, uuid.UUID(hex=last_id)
    except (binascii.Error, ValueError, TypeError, AttributeError) as exc:
        raise _invalid_cursor() from exc


def _sort_column(session: Session, sort: DomainSort) -> Any:
    if not sort.by_name:
        return Domain.created_at
    # PostgreSQL would order by the database's locale (which skips hyphens and dots); "C" is
    # byte order, which SQLite uses anyway.
    if session.get_bind().dialect.name == "postgresql":
        return Domain.name.collate("C")
    return Domain.name


def _key_of(domain: Domain, sort: DomainSort) -> str:
    return domain.name if sort.by_name else domain.created_at.isoformat()


def _parse_key(sort: DomainSort, key: str) -> str | datetime:
    if sort.by_name:
        return key
    try:
        return datetime.fromisoformat(key)
    except ValueError as exc:
        raise _invalid_cursor() from exc


def _after(column: Any, key: str | datetime, last_id: uuid.UUID, descending: bool) -> Any:
    """Rows strictly after (key, id) in the order: the keyset condition."""
    if descending:
        return or_(column < key, and_(column == key, Domain.id < last_id))
    return or_(column > key, and_(column == key, Domain.id > last_id))


def sorted_page(
    session: Session, statement: Select[Any], query: DomainQuery
) -> tuple[Sequence[Domain], str | None]:
    """One page of `statement` (already filtered) in the query's order, and the next cursor."""
    sort = query.sort
    if sort is None:
        rows = session.scalars(paginate(statement, Domain.id, query.cursor, query.limit)).all()
        return split_page(rows, query.limit, lambda d: d.id)
    column = _sort_column(session, sort)
    if query.cursor:
        key, last_id = _decode(sort, query.cursor)
        statement = statement.where(_after(column, _parse_key(sort, key), last_id, sort.descending))
    order: tuple[ColumnElement[Any], ...] = (
        (column.desc(), Domain.id.desc()) if sort.descending else (column.asc(), Domain.id.asc())
    )
    rows = session.scalars(statement.order_by(*order).limit(query.limit + 1)).all()
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    return rows, _encode(sort, _key_of(rows[-1], sort), rows[-1].id)
