"""Zapmail's workspaces endpoints (reference 4.2, 5.3), with the v1 paths the reference gives:
workspaces, their members and invitations. Billing details are in `billing_details`.

Members and invitations are managed by the workspace's OWNER, as on the native API (Zapmail
calls that role ADMIN: an OWNER is rendered as ADMIN)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mailfleet.auth.dependencies import Context, Owner
from mailfleet.compat.zapmail.envelope import (
    Contains,
    Envelope,
    PageLimit,
    PageNumber,
    page_counters,
    respond,
)
from mailfleet.compat.zapmail.workspaces import billing_details, schemas
from mailfleet.compat.zapmail.workspaces.billing_details import store_billing
from mailfleet.kit.errordocs import errors
from mailfleet.models.enums import Role
from mailfleet.workspaces import members as member_service
from mailfleet.workspaces import pages
from mailfleet.workspaces import service as workspace_service
from mailfleet.workspaces.invitations import service as invitation_service

router = APIRouter(tags=["workspaces"])
router.include_router(billing_details.router)

WorkspaceId = Annotated[uuid.UUID, Query(description="The workspace to delete.")]
MemberId = Annotated[
    uuid.UUID, Query(alias="memberId", description="The member's id (from the member list).")
]
InvitationId = Annotated[uuid.UUID, Query(alias="invitationId")]
Listed = Envelope[list[schemas.ListedWorkspace]]
Created = Envelope[schemas.Workspace]
Renamed = Envelope[schemas.RenamedWorkspace]
Members = Envelope[schemas.MemberPage]
Invitations = Envelope[schemas.InvitationPage]
Nothing = Envelope[None]


@router.get("/api/v2/workspaces", summary="Retrieve all workspaces", response_model=Listed)
def list_workspaces(
    ctx: Context, page: PageNumber = 1, limit: PageLimit = 10, contains: Contains = None
) -> Response:
    """Your workspaces (oldest first), `data` a plain array: counts are strings."""
    found, _ = pages.summaries(
        ctx.session, ctx.principal, contains=contains, page=page, limit=limit
    )
    data = [schemas.listed(summary) for summary in found]
    return respond(Listed, "Workspaces fetched successfully", data)


@router.get("/api/v1/workspace/list", summary="Retrieve all workspaces (v1)", response_model=Listed)
def list_workspaces_v1(ctx: Context) -> Response:
    """Every workspace of yours, no paging."""
    found, _ = pages.summaries(ctx.session, ctx.principal)
    return respond(Listed, "Workspaces fetched successfully", [schemas.listed(s) for s in found])


@router.post(
    "/api/v2/workspaces",
    summary="Create new workspace",
    response_model=Created,
    openapi_extra=errors("workspace_name_taken", "key_pinned"),
)
def create_workspace(body: schemas.CreateWorkspace, ctx: Context) -> Response:
    """A new workspace you own, with its billing details, in one transaction."""
    view = workspace_service.create_for(ctx.session, ctx.principal, name=body.name)
    store_billing(ctx, view.id, body.billing_details)
    return respond(Created, "Workspace created successfully", schemas.created(view))


@router.post(
    "/api/v1/workspace/create",
    summary="Create new workspace (v1)",
    response_model=Created,
    openapi_extra=errors("workspace_name_taken", "key_pinned"),
)
def create_workspace_v1(body: schemas.CreateWorkspaceV1, ctx: Context) -> Response:
    """v1 takes the name only; billing details can follow through add-or-update."""
    view = workspace_service.create_for(ctx.session, ctx.principal, name=body.name)
    return respond(Created, "Workspace created successfully", schemas.created(view))


@router.put(
    "/api/v2/workspaces",
    summary="Update workspace",
    response_model=Renamed,
    openapi_extra=errors("workspace_not_found", "insufficient_role", "workspace_name_taken"),
)
def rename_workspace(body: schemas.RenameWorkspace, ctx: Context) -> Response:
    """Rename (ADMIN); the name must be free among the owner's workspaces."""
    view = workspace_service.rename(ctx.session, ctx.principal, body.id, name=body.name)
    # Mailfleet keeps no update time per workspace: the answer's is the time of this update.
    data = schemas.renamed(view, updated_at=datetime.now(UTC))
    return respond(Renamed, "Workspace updated successfully", data)


@router.delete(
    "/api/v2/workspaces",
    summary="Delete A Workspace",
    response_model=Nothing,
    openapi_extra=errors("workspace_not_found", "insufficient_role", "workspace_not_empty"),
)
def delete_workspace(id: WorkspaceId, ctx: Context) -> Response:  # noqa: A002 (the query name)
    """Delete an empty workspace you own (no domains, no live mailboxes)."""
    workspace_service.delete(ctx.session, ctx.principal, id)
    return respond(Nothing, "Workspace deleted successfully", None)


@router.get(
    "/api/v2/workspaces/members", summary="List all workspace members", response_model=Members
)
def list_members(ctx: Owner, page: PageNumber = 1, limit: PageLimit = 10) -> Response:
    """The members of the `x-workspace-key` workspace, oldest first."""
    workspace_id = ctx.workspace(Role.OWNER)
    views, total = pages.member_page(
        ctx.session, ctx.principal, workspace_id, page=page, limit=limit
    )
    data = {**page_counters(total, page, limit), "members": [schemas.member(v) for v in views]}
    return respond(Members, "Members fetched successfully", data)


@router.put(
    "/api/v2/workspaces/members",
    summary="Update user role",
    response_model=Envelope[schemas.Member],
    openapi_extra=errors("member_not_found", "last_owner"),
)
def change_role(member_id: MemberId, body: schemas.RoleIn, ctx: Owner) -> Response:
    """Give the member ADMIN, EDITOR or VIEWER."""
    view = member_service.change_role(
        ctx.session, ctx.principal, ctx.workspace(Role.OWNER), member_id, role=Role(body.role)
    )
    data = schemas.member(view)
    return respond(Envelope[schemas.Member], "User role updated successfully", data)


@router.delete(
    "/api/v2/workspaces/members",
    summary="Revoke User Access",
    response_model=Nothing,
    openapi_extra=errors(
        "workspace_not_found", "insufficient_role", "member_not_found", "last_owner"
    ),
)
def remove_member(member_id: MemberId, ctx: Context) -> Response:
    """An OWNER removes anyone; any member may remove themself."""
    member_service.remove_member(ctx.session, ctx.principal, ctx.workspace(), member_id)
    return respond(Nothing, "User access revoked successfully", None)


@router.post(
    "/api/v2/workspaces/invitations",
    summary="Send invitation to join workspace",
    response_model=Envelope[schemas.Invitation],
    openapi_extra=errors("already_member", "invitation_pending"),
)
def invite(body: schemas.InvitationIn, ctx: Owner) -> Response:
    """Invite an email with a role; the invitee accepts through the native API or the app."""
    view = invitation_service.invite(
        ctx.session,
        ctx.settings,
        ctx.principal,
        ctx.workspace(Role.OWNER),
        email=body.email,
        role=Role(body.role),
    )
    data = schemas.invitation(view)
    return respond(Envelope[schemas.Invitation], "Invitation sent successfully", data)


@router.get(
    "/api/v2/workspaces/invitations", summary="List all invitations", response_model=Invitations
)
def list_invitations(ctx: Owner, page: PageNumber = 1, limit: PageLimit = 10) -> Response:
    """Every invitation of the workspace (pending, accepted, rejected, revoked), newest first."""
    views, total = pages.invitation_page(
        ctx.session, ctx.principal, ctx.workspace(Role.OWNER), page=page, limit=limit
    )
    data = {
        **page_counters(total, page, limit),
        "invitations": [schemas.invitation(v) for v in views],
    }
    return respond(Invitations, "Invitations fetched successfully", data)


@router.delete(
    "/api/v2/workspaces/invitations",
    summary="Revoke invitation",
    response_model=Nothing,
    openapi_extra=errors("invitation_not_found", "invitation_not_pending", "invitation_expired"),
)
def revoke_invitation(invitation_id: InvitationId, ctx: Owner) -> Response:
    """Cancel a pending invitation."""
    invitation_service.revoke(ctx.session, ctx.principal, ctx.workspace(Role.OWNER), invitation_id)
    return respond(Nothing, "Invitation revoked successfully", None)
