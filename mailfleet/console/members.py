"""The members page: the current workspace's members with their roles, a role change and a
removal per member, through workspaces.members (the services of `/v1/workspaces/{id}/members`).

The rules are the service's: only an OWNER lists and manages members (anyone else gets its 403),
and the last OWNER can be neither demoted nor removed (409, shown on the page).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from mailfleet.auth.dependencies import RequestContext, Viewer
from mailfleet.console.web import PREFIX, PostedForm, page, redirect
from mailfleet.exceptions import MailfleetError, NotFound, Unprocessable
from mailfleet.models import Role
from mailfleet.workspaces import members as member_service

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


def _members_page(
    ctx: RequestContext, status: int = 200, cursor: str | None = None, **values: Any
) -> Response:
    rows, next_cursor = member_service.list_members(
        ctx.session, ctx.principal, ctx.workspace(), cursor=cursor, limit=PAGE_SIZE
    )
    shown: dict[str, Any] = {"error": None}
    shown.update(values)
    return page(
        ctx,
        "members.html",
        status,
        members=rows,
        next_cursor=next_cursor,
        roles=list(Role),
        me=ctx.user_id,
        **shown,
    )


@router.get("/members")
def members(ctx: Viewer, cursor: Annotated[str | None, Query(max_length=512)] = None) -> Response:
    return _members_page(ctx, cursor=cursor)


def _user(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound(f"Member {raw[:64]} not found.", code="member_not_found") from exc


def _refused(form: PostedForm, exc: MailfleetError) -> Response:
    # A refusal the OWNER can act on (the last OWNER) comes back on the page; the rest (not an
    # OWNER, no such member) are the error pages.
    if exc.code != "last_owner":
        raise exc
    form.ctx.session.rollback()
    return _members_page(form.ctx, exc.status, error=exc.detail)


@router.post("/members/{user_id}/role")
def change_role(form: PostedForm, user_id: str) -> Response:
    ctx = form.ctx
    try:
        role = Role(form.field("role"))
    except ValueError as exc:
        raise Unprocessable("Pick a role from the list.", code="validation_error") from exc
    try:
        member_service.change_role(
            ctx.session, ctx.principal, ctx.workspace(), _user(user_id), role=role
        )
    except MailfleetError as exc:
        return _refused(form, exc)
    return redirect(f"{PREFIX}/members")


@router.post("/members/{user_id}/remove")
def remove(form: PostedForm, user_id: str) -> Response:
    ctx = form.ctx
    try:
        member_service.remove_member(ctx.session, ctx.principal, ctx.workspace(), _user(user_id))
    except MailfleetError as exc:
        return _refused(form, exc)
    # Who left on their own is in this workspace no more: back to the overview.
    return redirect(f"{PREFIX}/" if _user(user_id) == ctx.user_id else f"{PREFIX}/members")
