"""Shapes every compat surface shares: ISO-8601 UTC timestamps with milliseconds, camelCase
response and request bases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from mailfleet.kit.schemas import StrictScalars


def iso_ms(value: datetime) -> str:
    """`2026-03-12T00:00:00.000Z`: UTC, milliseconds, a Z."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


Timestamp = Annotated[
    datetime,
    PlainSerializer(iso_ms, return_type=str),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "example": "2026-03-12T00:00:00.000Z"}
    ),
]


class CamelOut(BaseModel):
    """A response shape: keys in camelCase unless a field names its own."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class CamelIn(StrictScalars):
    """A request shape: camelCase keys, unknown ones ignored, JSON scalars strict."""

    model_config = ConfigDict(alias_generator=to_camel, extra="ignore")
