"""Invitations: an OWNER invites an email with a role; the user with that email accepts or rejects.

Only OWNERs manage invitations (invite, list, revoke), as only they manage members: an
invitation becomes a membership, so inviting is adding a member. An invitation addressed to
someone else is indistinguishable from one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from mailfleet.auth.service import Principal
from mailfleet.config import Settings
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict, NotFound
from mailfleet.kit import clock
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import Invitation, InvitationStatus, Membership, Role, User, Workspace
from mailfleet.workspaces.service import member_of


@dataclass(frozen=True)
class InvitationView:
    id: uuid.UUID
    workspace_id: uuid.UUID
    workspace_name: str
    email: str
    role: Role
    status: InvitationStatus
    invited_by_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    responded_at: datetime | None


def _query() -> Select[Any]:
    """Rows of (Invitation, workspace name); typed loosely so `paginate` accepts it."""
    statement = select(Invitation, Workspace.name).join(
        Workspace, Workspace.id == Invitation.workspace_id
    )
    return cast("Select[Any]", statement)


def _view(invitation: Invitation, workspace_name: str) -> InvitationView:
    return InvitationView(
        invitation.id,
        invitation.workspace_id,
        workspace_name,
        invitation.email,
        invitation.role,
        invitation.status,
        invitation.invited_by_id,
        invitation.created_at,
        invitation.expires_at,
        invitation.responded_at,
    )


def invite(
    session: Session,
    settings: Settings,
    principal: Principal,
    workspace_id: uuid.UUID,
    *,
    email: str,
    role: Role,
) -> InvitationView:
    member_of(session, principal, workspace_id, Role.OWNER)
    email = email.strip().lower()
    now = clock.now()
    is_member = session.scalar(
        select(
            exists()
            .where(Membership.workspace_id == workspace_id, Membership.user_id == User.id)
            .where(User.email == email)
        )
    )
    if is_member:
        raise Conflict(f"{email} is already a member.", code="already_member", field="email")
    pending = session.scalar(
        select(
            exists().where(
                Invitation.workspace_id == workspace_id,
                Invitation.email == email,
                Invitation.status == InvitationStatus.PENDING,
                Invitation.expires_at > now,
            )
        )
    )
    if pending:
        raise Conflict(
            f"{email} already has a pending invitation.",
            code="invitation_pending",
            field="email",
        )
    invitation = Invitation(
        workspace_id=workspace_id,
        email=email,
        role=role,
        status=InvitationStatus.PENDING,
        invited_by_id=principal.user_id,
        expires_at=now + timedelta(days=settings.invitation_ttl_days),
    )
    session.add(invitation)
    session.flush()
    events.record(
        session,
        workspace_id=workspace_id,
        type="invitation.created",
        subject_type="invitation",
        subject_id=invitation.id,
        actor=principal.actor,
        email=email,
        role=role.value,
    )
    return _view(invitation, session.get_one(Workspace, workspace_id).name)


def list_for_workspace(
    session: Session,
    principal: Principal,
    workspace_id: uuid.UUID,
    *,
    status: InvitationStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[InvitationView], str | None]:
    member_of(session, principal, workspace_id, Role.OWNER)
    statement = _query().where(Invitation.workspace_id == workspace_id)
    if status is not None:
        statement = statement.where(Invitation.status == status)
    rows = session.execute(paginate(statement, Invitation.id, cursor, limit))
    return split_page([_view(i, name) for i, name in rows], limit, lambda v: v.id)


def revoke(
    session: Session, principal: Principal, workspace_id: uuid.UUID, invitation_id: uuid.UUID
) -> InvitationView:
    member_of(session, principal, workspace_id, Role.OWNER)
    row = session.execute(
        _query()
        .where(Invitation.workspace_id == workspace_id, Invitation.id == invitation_id)
        .with_for_update(of=Invitation)
    ).first()
    if row is None:
        raise NotFound(f"Invitation {invitation_id} not found.", code="invitation_not_found")
    invitation, name = row
    _ensure_pending(invitation)
    _respond(session, invitation, InvitationStatus.REVOKED, principal.actor)
    return _view(invitation, name)


def list_for_invitee(session: Session, principal: Principal) -> Sequence[InvitationView]:
    """Pending, unexpired invitations addressed to the caller's email, newest first."""
    rows = session.execute(
        _query()
        .where(
            Invitation.email == principal.email.lower(),
            Invitation.status == InvitationStatus.PENDING,
            Invitation.expires_at > clock.now(),
        )
        .order_by(Invitation.id.desc())
    )
    return [_view(invitation, name) for invitation, name in rows]


def _addressed_to(
    session: Session, principal: Principal, invitation_id: uuid.UUID
) -> tuple[Invitation, str]:
    row = session.execute(
        _query()
        .where(Invitation.id == invitation_id, Invitation.email == principal.email.lower())
        .with_for_update(of=Invitation)
    ).first()
    if row is None:
        raise NotFound(f"Invitation {invitation_id} not found.", code="invitation_not_found")
    invitation, name = row
    _ensure_pending(invitation)
    if invitation.expires_at <= clock.now():
        raise Conflict("This invitation has expired.", code="invitation_expired")
    return invitation, name


def _ensure_pending(invitation: Invitation) -> None:
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(
            f"This invitation is {invitation.status.value}, no longer PENDING.",
            code="invitation_not_pending",
        )


# What an invitation's answer records: spelled out, so each name is a declared event type.
RESPONSE_EVENTS = {
    InvitationStatus.ACCEPTED: EventType.INVITATION_ACCEPTED,
    InvitationStatus.REJECTED: EventType.INVITATION_REJECTED,
    InvitationStatus.REVOKED: EventType.INVITATION_REVOKED,
}


def _respond(
    session: Session, invitation: Invitation, status: InvitationStatus, actor: str
) -> None:
    invitation.status = status
    invitation.responded_at = clock.now()
    events.record(
        session,
        workspace_id=invitation.workspace_id,
        type=RESPONSE_EVENTS[status],
        subject_type="invitation",
        subject_id=invitation.id,
        actor=actor,
        email=invitation.email,
        role=invitation.role.value,
    )
    session.flush()


def accept(session: Session, principal: Principal, invitation_id: uuid.UUID) -> InvitationView:
    """Join the workspace with the invited role (a member already keeps their role)."""
    invitation, name = _addressed_to(session, principal, invitation_id)
    already = session.scalar(
        select(Membership.id).where(
            Membership.workspace_id == invitation.workspace_id,
            Membership.user_id == principal.user_id,
        )
    )
    if already is None:
        membership = Membership(
            workspace_id=invitation.workspace_id, user_id=principal.user_id, role=invitation.role
        )
        session.add(membership)
        session.flush()
        events.record(
            session,
            workspace_id=invitation.workspace_id,
            type="member.joined",
            subject_type="membership",
            subject_id=membership.id,
            actor=principal.actor,
            user_id=str(principal.user_id),
            role=invitation.role.value,
        )
    _respond(session, invitation, InvitationStatus.ACCEPTED, principal.actor)
    return _view(invitation, name)


def reject(session: Session, principal: Principal, invitation_id: uuid.UUID) -> InvitationView:
    invitation, name = _addressed_to(session, principal, invitation_id)
    _respond(session, invitation, InvitationStatus.REJECTED, principal.actor)
    return _view(invitation, name)
