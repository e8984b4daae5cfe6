"""The API keys page: the signed-in user's keys (prefix, name, pin, created, last used), issuing
one (its secret shown on the answer page only) and revoking one, through the services of
`/v1/api-keys` (api_keys.service), so the same rules hold: a key pinned to a workspace needs
ADMIN there, and tokens are never stored or shown again.

In the console, issuing and revoking are writes like any other: they need EDITOR in the current
workspace, so a VIEWER only sees the list.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ValidationError
from starlette.responses import Response

from mailfleet.api_keys import schemas as key_schemas
from mailfleet.api_keys import service as key_service
from mailfleet.auth.dependencies import Context, RequestContext
from mailfleet.console.web import PREFIX, PostedForm, page, redirect, workspaces_of
from mailfleet.exceptions import MailfleetError, NotFound
from mailfleet.models import Role

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


def _keys_page(
    ctx: RequestContext, status: int = 200, cursor: str | None = None, **values: Any
) -> Response:
    keys, next_cursor = key_service.list_keys(
        ctx.session, ctx.principal, cursor=cursor, limit=PAGE_SIZE
    )
    shown: dict[str, Any] = {"issued": None, "error": None, "entered_name": ""}
    shown.update(values)
    names = {choice_id: name for choice_id, name in _workspace_names(ctx)}
    return page(ctx, "keys.html", status, keys=keys, next_cursor=next_cursor, names=names, **shown)


def _workspace_names(ctx: RequestContext) -> list[tuple[uuid.UUID, str]]:
    return [(c.id, c.name) for c in workspaces_of(ctx.session, ctx.user_id)]


@router.get("/api-keys")
def keys(ctx: Context, cursor: Annotated[str | None, Query(max_length=512)] = None) -> Response:
    return _keys_page(ctx, cursor=cursor)


@router.post("/api-keys")
def issue(form: PostedForm) -> Response:
    """Issues a key; the answer page is the only place its token ever appears."""
    ctx = form.ctx
    workspace_id = ctx.workspace(Role.EDITOR)
    name = form.field("name")
    try:
        body = key_schemas.ApiKeyCreate.model_validate(
            {"name": name, "workspace_id": workspace_id if form.field("pin") else None}
        )
        issued = key_service.create(
            ctx.session, ctx.principal, name=body.name, workspace_id=body.workspace_id
        )
    except (MailfleetError, ValidationError) as exc:
        ctx.session.rollback()
        if isinstance(exc, ValidationError):
            detail, status = "Give the key a name (up to 100 characters).", 422
        else:
            detail, status = exc.detail, exc.status
        return _keys_page(ctx, status, error=detail, entered_name=name)
    return _keys_page(ctx, 201, issued=issued)


@router.post("/api-keys/{key_id}/revoke")
def revoke(form: PostedForm, key_id: str) -> Response:
    ctx = form.ctx
    ctx.workspace(Role.EDITOR)
    try:
        wanted = uuid.UUID(key_id)
    except ValueError as exc:
        raise NotFound(f"API key {key_id[:64]} not found.", code="api_key_not_found") from exc
    key_service.revoke(ctx.session, ctx.principal, wanted)
    return redirect(f"{PREFIX}/api-keys")
