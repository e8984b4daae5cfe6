"""Zapmail's response shapes and request parameters shared by every endpoint group.

Most answers are `{"status": 200, "message": "...", "data": ...}` (`respond`); the wallet ones
are flat objects (`respond_flat`). Lists are pages by number: `page` (from 1) and `limit`
(default 10, as the document's examples) in the query, answered as `totalSearchedCount`,
`currentPage`, `nextPage`, `totalPages` and the items under the endpoint's own key. `nextPage`
is `currentPage + 1` even on the last page, as the hosted service answers (its clients stop on
an empty page); `totalPages` is at least 1. Counts the document shows as strings
(`domainCount`, `mailboxCount`, `assignedMailboxesCount`) are strings.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mailfleet.compat.shapes import CamelOut
from mailfleet.config import MailboxType
from mailfleet.exceptions import Unprocessable

T = TypeVar("T")
JSON = "application/json"
MAX_LIMIT = 1000

PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]
PageLimit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description="Items per page (default 10, at most 1000).")
]
Contains = Annotated[
    str | None, Query(max_length=200, description="Only items whose name contains this.")
]


class Envelope(BaseModel, Generic[T]):
    status: int = Field(default=200, examples=[200])
    message: str
    data: T


class Error(BaseModel):
    """Every error: the document's envelope, plus Mailfleet's stable `code` and the `field`."""

    status: int = Field(examples=[400])
    message: str
    data: None = None
    code: str = Field(description="Mailfleet's stable error code (see x-error-codes).")
    field: str | None = None


class PageOf(CamelOut):
    """The page counters every paginated `data` starts with."""

    total_searched_count: int
    current_page: int
    next_page: int
    total_pages: int


def page_counters(total: int, page: int, limit: int) -> dict[str, int]:
    return {
        "totalSearchedCount": total,
        "currentPage": page,
        "nextPage": page + 1,
        "totalPages": max(1, math.ceil(total / limit)),
    }


def offset_of(page: int, limit: int) -> int:
    return (page - 1) * limit


def respond(
    schema: type[BaseModel],
    message: str,
    data: Any,
    status: int = 200,
    *,
    secret: bool = False,
) -> Response:
    """`{status, message, data}`, `data` shaped by `schema` (a `Envelope[...]`)."""
    payload = {"status": status, "message": message, "data": data}
    return _render(schema, payload, status, secret=secret)


def respond_flat(schema: type[BaseModel], payload: Any, status: int = 200) -> Response:
    """A flat object (the wallet endpoints' answers have no envelope)."""
    return _render(schema, payload, status)


def _render(
    schema: type[BaseModel], payload: Any, status: int, *, secret: bool = False
) -> Response:
    body = schema.model_validate(payload).model_dump_json(by_alias=True)
    headers = {"Cache-Control": "no-store"} if secret else None
    return Response(body, status_code=status, media_type=JSON, headers=headers)


PROVIDERS = {"GOOGLE": MailboxType.GOOGLE, "MICROSOFT": MailboxType.MICROSOFT}


def service_provider(
    x_service_provider: Annotated[
        str | None,
        Header(
            description="GOOGLE or MICROSOFT: the provider of mailboxes this call creates. "
            "Reads return both providers (Zapmail's unified provider, Oct 2026)."
        ),
    ] = None,
) -> MailboxType | None:
    """The `x-service-provider` header: GOOGLE, MICROSOFT or absent (case-insensitive)."""
    if x_service_provider is None or not x_service_provider.strip():
        return None
    found = PROVIDERS.get(x_service_provider.strip().upper())
    if found is None:
        raise Unprocessable(
            "x-service-provider must be GOOGLE or MICROSOFT.",
            code="validation_error",
            field="x-service-provider",
        )
    return found


ServiceProvider = Annotated[MailboxType | None, Depends(service_provider)]


def read_provider(
    request: Request, provider: Annotated[MailboxType | None, Depends(service_provider)]
) -> MailboxType | None:
    """The provider a read is narrowed to: none under the unified provider (both, each item
    saying its own), else the header's (GOOGLE when absent), as before the change."""
    if request.app.state.settings.zapmail_unified_provider:
        return None
    return provider or MailboxType.GOOGLE


ReadProvider = Annotated[MailboxType | None, Depends(read_provider)]
