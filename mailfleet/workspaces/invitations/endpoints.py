"""Invitations: managed by a workspace's OWNERs, answered by the invited user."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.auth.dependencies import Context
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import InvitationStatus
from mailfleet.workspaces.invitations import schemas
from mailfleet.workspaces.invitations import service as invitations
from mailfleet.workspaces.service import MEMBER_OF_CODES

router = APIRouter(tags=["invitations"])


@router.post(
    "/workspaces/{workspace_id}/invitations",
    status_code=201,
    response_model=schemas.Invitation,
    openapi_extra=errors(*MEMBER_OF_CODES, "already_member", "invitation_pending"),
)
def create_invitation(
    workspace_id: uuid.UUID, body: schemas.InvitationCreate, ctx: Context
) -> Response:
    """Invite an email address with a role (OWNER only)."""
    view = invitations.invite(
        ctx.session, ctx.settings, ctx.principal, workspace_id, email=body.email, role=body.role
    )
    return render(schemas.Invitation, view, status=201)


@router.get(
    "/workspaces/{workspace_id}/invitations",
    response_model=Page[schemas.Invitation],
    openapi_extra=errors(*MEMBER_OF_CODES),
)
def list_workspace_invitations(
    workspace_id: uuid.UUID,
    ctx: Context,
    status: InvitationStatus | None = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Response:
    """List a workspace's invitations, newest first (OWNER only)."""
    rows, next_cursor = invitations.list_for_workspace(
        ctx.session, ctx.principal, workspace_id, status=status, cursor=cursor, limit=limit
    )
    return render_page(schemas.Invitation, rows, next_cursor)


@router.delete(
    "/workspaces/{workspace_id}/invitations/{invitation_id}",
    response_model=schemas.Invitation,
    openapi_extra=errors(*MEMBER_OF_CODES, "invitation_not_found", "invitation_not_pending"),
)
def revoke_invitation(workspace_id: uuid.UUID, invitation_id: uuid.UUID, ctx: Context) -> Response:
    """Revoke a pending invitation (OWNER only)."""
    view = invitations.revoke(ctx.session, ctx.principal, workspace_id, invitation_id)
    return render(schemas.Invitation, view)


@router.get("/invitations", response_model=Page[schemas.Invitation])
def list_my_invitations(ctx: Context) -> Response:
    """List the pending invitations addressed to the caller's email (one page holds them all)."""
    return render_page(
        schemas.Invitation, invitations.list_for_invitee(ctx.session, ctx.principal), None
    )


@router.post(
    "/invitations/{invitation_id}/accept",
    response_model=schemas.Invitation,
    openapi_extra=errors("invitation_not_found", "invitation_expired", "invitation_not_pending"),
)
def accept_invitation(invitation_id: uuid.UUID, ctx: Context) -> Response:
    """Accept an invitation addressed to you and join its workspace."""
    return render(schemas.Invitation, invitations.accept(ctx.session, ctx.principal, invitation_id))


@router.post(
    "/invitations/{invitation_id}/reject",
    response_model=schemas.Invitation,
    openapi_extra=errors("invitation_not_found", "invitation_expired", "invitation_not_pending"),
)
def reject_invitation(invitation_id: uuid.UUID, ctx: Context) -> Response:
    """Decline an invitation addressed to you."""
    return render(schemas.Invitation, invitations.reject(ctx.session, ctx.principal, invitation_id))
