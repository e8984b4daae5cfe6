"""Rendering: endpoints validate their output against the documented schema and return bytes.

Returning a Response skips FastAPI's second serialisation pass; the schema named in
`response_model` still documents the body.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel

from mailfleet.kit.schemas import Page

JSON = "application/json"

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]


# Marks a response that carries a secret: no cache may keep it, and the idempotency store
# keeps it only encrypted.
NO_STORE = {"Cache-Control": "no-store"}


def render(
    schema: type[BaseModel], obj: Any, status: int = 200, *, secret: bool = False
) -> Response:
    body = schema.model_validate(obj, from_attributes=True).model_dump_json()
    return Response(body, status_code=status, media_type=JSON, headers=NO_STORE if secret else None)


def render_page(schema: type[BaseModel], items: Any, next_cursor: str | None) -> Response:
    page = Page[schema].model_validate(  # type: ignore[valid-type]
        {"items": items, "next_cursor": next_cursor}, from_attributes=True
    )
    return Response(page.model_dump_json(), media_type=JSON)
