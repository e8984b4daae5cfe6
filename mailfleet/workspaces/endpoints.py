"""Workspaces, members and billing details. Invitation routes live in `invitations/`.

Routes naming a workspace in the path check the caller's membership of *that* workspace (not the
request's selected one): non-members get 404, members with too low a role 403.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.auth.dependencies import Context
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Deleted, Page
from mailfleet.workspaces import members, schemas
from mailfleet.workspaces import service as workspace_service
from mailfleet.workspaces.invitations.endpoints import router as invitations_router
from mailfleet.workspaces.service import MEMBER_OF_CODES

router = APIRouter(tags=["workspaces"])


@router.post(
    "/workspaces",
    status_code=201,
    response_model=schemas.Workspace,
    openapi_extra=errors("workspace_name_taken", "key_pinned"),
)
def create_workspace(body: schemas.WorkspaceCreate, ctx: Context) -> Response:
    """Create a workspace; the caller becomes its OWNER."""
    view = workspace_service.create_for(ctx.session, ctx.principal, name=body.name)
    return render(schemas.Workspace, view, status=201)


@router.get("/workspaces", response_model=Page[schemas.Workspace])
def list_workspaces(ctx: Context) -> Response:
    """List the caller's workspaces with the caller's role in each (one page holds them all)."""
    views = workspace_service.list_for(ctx.session, ctx.principal)
    return render_page(schemas.Workspace, views, None)


@router.get(
    "/workspaces/{workspace_id}",
    response_model=schemas.Workspace,
    openapi_extra=errors(*MEMBER_OF_CODES),
)
def get_workspace(workspace_id: uuid.UUID, ctx: Context) -> Response:
    """Get one of the caller's workspaces."""
    view = workspace_service.get_for(ctx.session, ctx.principal, workspace_id)
    return render(schemas.Workspace, view)


@router.patch(
    "/workspaces/{workspace_id}",
    response_model=schemas.Workspace,
    openapi_extra=errors(*MEMBER_OF_CODES, "workspace_name_taken"),
)
def rename_workspace(
    workspace_id: uuid.UUID, body: schemas.WorkspaceUpdate, ctx: Context
) -> Response:
    """Rename a workspace (ADMIN or OWNER)."""
    view = workspace_service.rename(ctx.session, ctx.principal, workspace_id, name=body.name)
    return render(schemas.Workspace, view)


@router.delete(
    "/workspaces/{workspace_id}",
    response_model=Deleted,
    openapi_extra=errors(*MEMBER_OF_CODES, "workspace_not_empty"),
)
def delete_workspace(workspace_id: uuid.UUID, ctx: Context) -> Response:
    """Delete an empty workspace (OWNER only): no live domain and no mailbox left."""
    workspace_service.delete(ctx.session, ctx.principal, workspace_id)
    return render(Deleted, {"id": workspace_id})


@router.get(
    "/workspaces/{workspace_id}/members",
    response_model=Page[schemas.Member],
    openapi_extra=errors(*MEMBER_OF_CODES),
)
def list_members(
    workspace_id: uuid.UUID, ctx: Context, cursor: CursorParam = None, limit: Limit = 50
) -> Response:
    """List a workspace's members, newest first (OWNER only)."""
    rows, next_cursor = members.list_members(
        ctx.session, ctx.principal, workspace_id, cursor=cursor, limit=limit
    )
    return render_page(schemas.Member, rows, next_cursor)


@router.patch(
    "/workspaces/{workspace_id}/members/{user_id}",
    response_model=schemas.Member,
    openapi_extra=errors(*MEMBER_OF_CODES, "member_not_found", "last_owner"),
)
def change_member_role(
    workspace_id: uuid.UUID, user_id: uuid.UUID, body: schemas.MemberUpdate, ctx: Context
) -> Response:
    """Change a member's role (OWNER only; the last OWNER cannot be demoted)."""
    view = members.change_role(ctx.session, ctx.principal, workspace_id, user_id, role=body.role)
    return render(schemas.Member, view)


@router.delete(
    "/workspaces/{workspace_id}/members/{user_id}",
    response_model=Deleted,
    openapi_extra=errors(*MEMBER_OF_CODES, "member_not_found", "last_owner"),
)
def remove_member(workspace_id: uuid.UUID, user_id: uuid.UUID, ctx: Context) -> Response:
    """Remove a member (OWNER), or leave (yourself); the last OWNER cannot go."""
    membership_id = members.remove_member(ctx.session, ctx.principal, workspace_id, user_id)
    return render(Deleted, {"id": membership_id})


@router.get(
    "/workspaces/{workspace_id}/billing",
    response_model=schemas.WorkspaceBilling,
    openapi_extra=errors(*MEMBER_OF_CODES),
)
def get_billing(workspace_id: uuid.UUID, ctx: Context) -> Response:
    """Get the workspace's billing details (ADMIN or OWNER)."""
    billing = workspace_service.get_billing(ctx.session, ctx.principal, workspace_id)
    return render(schemas.WorkspaceBilling, billing)


@router.put(
    "/workspaces/{workspace_id}/billing",
    response_model=schemas.WorkspaceBilling,
    openapi_extra=errors(*MEMBER_OF_CODES),
)
def set_billing(workspace_id: uuid.UUID, body: schemas.BillingDetailsIn, ctx: Context) -> Response:
    """Replace the workspace's billing details (ADMIN or OWNER)."""
    billing = workspace_service.set_billing(
        ctx.session, ctx.principal, workspace_id, body.model_dump(mode="json")
    )
    return render(schemas.WorkspaceBilling, billing)


router.include_router(invitations_router)
