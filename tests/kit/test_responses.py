"""RowRenderer: raw driver values come out byte for byte as the Pydantic schema renders them."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Boolean, Enum, String, Uuid
from sqlalchemy.types import TypeEngine

from mailfleet.kit.responses import RowRenderer
from mailfleet.kit.schemas import Page
from mailfleet.models.base import UTCDateTime


class Colour(enum.Enum):
    # Stored by name, shown by value: the renderer must map one to the other.
    RED = "red"


class Item(BaseModel):
    id: uuid.UUID
    at: datetime
    maybe: datetime | None
    flag: bool
    colour: Colour
    name: str


FIELDS: dict[str, TypeEngine[Any]] = {
    "id": Uuid(),
    "at": UTCDateTime(),
    "maybe": UTCDateTime(),
    "flag": Boolean(),
    "colour": Enum(Colour),
    "name": String(),
}
ID = uuid.UUID("01a1fd22-6e56-7fc6-98bf-b528ff384d7b")
ODD_NAME = 'Zoë "Q" \\ <tag> \u2028 🎉'


def schema_body(at: datetime, maybe: datetime | None) -> bytes:
    item = Item(id=ID, at=at, maybe=maybe, flag=True, colour=Colour.RED, name=ODD_NAME)
    return Page[Item](items=[item], next_cursor="abc").model_dump_json().encode()


@pytest.mark.parametrize("microsecond", [0, 120000, 5])
def test_sqlite_values_render_like_the_schema(microsecond: int) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, microsecond, tzinfo=UTC)
    stored = f"2026-01-02 03:04:05.{microsecond:06d}"  # how SQLAlchemy stores it on SQLite
    row = (ID.hex, stored, None, 1, "RED", ODD_NAME)
    body = RowRenderer(FIELDS, "sqlite").page([row], "abc").body
    assert body == schema_body(at, None)


def test_postgresql_values_render_like_the_schema() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    # The driver hands back the session's time zone; the API always speaks UTC.
    local = at.astimezone(timezone(timedelta(hours=2)))
    row = (ID, local, local, True, "RED", ODD_NAME)
    body = RowRenderer(FIELDS, "postgresql").page([row], "abc").body
    assert body == schema_body(at, at)


def test_an_empty_page() -> None:
    response = RowRenderer(FIELDS, "sqlite").page([], None)
    assert response.body == b'{"items":[],"next_cursor":null}'
    assert response.media_type == "application/json"


class _Inner(BaseModel):
    password: str


class _Outer(BaseModel):
    id: int
    inner: list[_Inner] | None


def test_a_schema_with_a_secret_field_anywhere_renders_no_store() -> None:
    from mailfleet.kit.responses import render

    secret = render(_Outer, {"id": 1, "inner": [{"password": "p"}]})
    plain = render(Item, schema_item())
    assert secret.headers["cache-control"] == "no-store"
    assert "cache-control" not in plain.headers


def schema_item() -> Item:
    return Item(id=ID, at=datetime.now(UTC), maybe=None, flag=True, colour=Colour.RED, name="x")
