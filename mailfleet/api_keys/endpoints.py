"""The caller's API keys: issue (token shown once), list, revoke."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.api_keys import schemas
from mailfleet.api_keys import service as key_service
from mailfleet.auth.dependencies import Context
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.workspaces.service import MEMBER_OF_CODES

router = APIRouter(tags=["api_keys"])


@router.post(
    "/api-keys",
    status_code=201,
    response_model=schemas.IssuedApiKey,
    openapi_extra=errors(*MEMBER_OF_CODES),
)
def create_api_key(body: schemas.ApiKeyCreate, ctx: Context) -> Response:
    """Issue an API key; the token is shown only here.

    A key pinned to a workspace (`workspace_id`, or the calling key's own pin) needs the ADMIN
    role there. An unpinned key acts with your own role in whichever workspace a request picks.
    """
    issued = key_service.create(
        ctx.session, ctx.principal, name=body.name, workspace_id=body.workspace_id
    )
    return render(schemas.IssuedApiKey, issued, status=201, secret=True)


@router.get("/api-keys", response_model=Page[schemas.ApiKey])
def list_api_keys(ctx: Context, cursor: CursorParam = None, limit: Limit = 50) -> Response:
    """List your API keys, newest first (never their tokens)."""
    rows, next_cursor = key_service.list_keys(
        ctx.session, ctx.principal, cursor=cursor, limit=limit
    )
    return render_page(schemas.ApiKey, rows, next_cursor)


@router.delete(
    "/api-keys/{key_id}", response_model=schemas.ApiKey, openapi_extra=errors("api_key_not_found")
)
def revoke_api_key(key_id: uuid.UUID, ctx: Context) -> Response:
    """Revoke one of your API keys; it stops working at once."""
    return render(schemas.ApiKey, key_service.revoke(ctx.session, ctx.principal, key_id))
