"""Workspaces (the tenants): membership checks, create/rename/delete and billing details.

Members live in `members.py`, invitations in `invitations.py`. Every lookup of a workspace named
in a path goes through `membership_for`, scoped by the caller: a workspace the caller is not a
member of is indistinguishable from one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from mailfleet.auth.service import Principal
from mailfleet.events import service as events
from mailfleet.exceptions import Conflict, Forbidden, NotFound
from mailfleet.models import Domain, DomainStatus, Mailbox, Membership, Role, User, Workspace
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES


@dataclass(frozen=True)
class WorkspaceView:
    """A workspace as one member sees it."""

    id: uuid.UUID
    name: str
    role: Role
    owner_id: uuid.UUID
    created_at: datetime


def _view(workspace: Workspace, role: Role) -> WorkspaceView:
    return WorkspaceView(
        workspace.id, workspace.name, role, workspace.owner_id, workspace.created_at
    )


def membership_for(
    session: Session,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    minimum_role: Role = Role.VIEWER,
    *,
    pinned_workspace_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> Membership:
    """The caller's membership of a workspace named in a path, or 404; 403 if the role is short.

    A key pinned to a workspace sees no other workspace at all.
    """
    statement = select(Membership).where(
        Membership.user_id == user_id, Membership.workspace_id == workspace_id
    )
    if for_update:
        statement = statement.with_for_update()
    membership = session.scalars(statement).first()
    if membership is None or (
        pinned_workspace_id is not None and pinned_workspace_id != workspace_id
    ):
        raise NotFound(f"Workspace {workspace_id} not found.", code="workspace_not_found")
    if not membership.role.at_least(minimum_role):
        raise Forbidden(
            f"This action needs the {minimum_role.value} role; you are {membership.role.value}.",
            code="insufficient_role",
        )
    return membership


# What `member_of` refuses with: not a member (or no such workspace), or a role too low.
MEMBER_OF_CODES = ("workspace_not_found", "insufficient_role")


def member_of(
    session: Session, principal: Principal, workspace_id: uuid.UUID, minimum_role: Role
) -> Membership:
    """`membership_for` for the authenticated caller (honouring the key's pin)."""
    return membership_for(
        session,
        principal.user_id,
        workspace_id,
        minimum_role,
        pinned_workspace_id=principal.pinned_workspace_id,
    )


def create_workspace(session: Session, *, owner: User, name: str) -> Workspace:
    name = name.strip()
    _ensure_name_free(session, owner_id=owner.id, name=name)
    workspace = Workspace(name=name, owner_id=owner.id, settings={})
    session.add(workspace)
    session.flush()
    session.add(Membership(workspace_id=workspace.id, user_id=owner.id, role=Role.OWNER))
    events.record(
        session,
        workspace_id=workspace.id,
        type="workspace.created",
        subject_type="workspace",
        subject_id=workspace.id,
        actor=f"user:{owner.id}",
    )
    session.flush()
    return workspace


def _ensure_name_free(
    session: Session, *, owner_id: uuid.UUID, name: str, but: uuid.UUID | None = None
) -> None:
    statement = select(Workspace.id).where(Workspace.owner_id == owner_id, Workspace.name == name)
    if but is not None:
        statement = statement.where(Workspace.id != but)
    if session.scalar(statement) is not None:
        raise Conflict(
            f"You already own a workspace named {name!r}.",
            code="workspace_name_taken",
            field="name",
        )


def create_for(session: Session, principal: Principal, *, name: str) -> WorkspaceView:
    """Create a workspace for the caller, who becomes its OWNER."""
    if principal.pinned_workspace_id is not None:
        raise Forbidden(
            "A key pinned to one workspace cannot create workspaces.", code="key_pinned"
        )
    owner = session.get_one(User, principal.user_id)
    return _view(create_workspace(session, owner=owner, name=name), Role.OWNER)


def list_for(session: Session, principal: Principal) -> Sequence[WorkspaceView]:
    """The caller's workspaces with their role, oldest membership first."""
    statement = (
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == principal.user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    if principal.pinned_workspace_id is not None:
        statement = statement.where(Workspace.id == principal.pinned_workspace_id)
    return [_view(workspace, role) for workspace, role in session.execute(statement)]


def get_for(session: Session, principal: Principal, workspace_id: uuid.UUID) -> WorkspaceView:
    membership = member_of(session, principal, workspace_id, Role.VIEWER)
    return _view(session.get_one(Workspace, workspace_id), membership.role)


def rename(
    session: Session, principal: Principal, workspace_id: uuid.UUID, *, name: str
) -> WorkspaceView:
    membership = member_of(session, principal, workspace_id, Role.ADMIN)
    workspace = session.get_one(Workspace, workspace_id, with_for_update=True)
    name = name.strip()
    if workspace.name != name:
        _ensure_name_free(session, owner_id=workspace.owner_id, name=name, but=workspace.id)
        previous = workspace.name
        workspace.name = name
        events.record(
            session,
            workspace_id=workspace.id,
            type="workspace.renamed",
            subject_type="workspace",
            subject_id=workspace.id,
            actor=principal.actor,
            previous=previous,
            name=name,
        )
        session.flush()
    return _view(workspace, membership.role)


def delete(session: Session, principal: Principal, workspace_id: uuid.UUID) -> None:
    """Delete an empty workspace: no domain other than REMOVED ones, no live mailbox."""
    member_of(session, principal, workspace_id, Role.OWNER)
    workspace = session.get_one(Workspace, workspace_id, with_for_update=True)
    has_domains = session.scalar(
        select(
            exists().where(
                Domain.workspace_id == workspace_id, Domain.status != DomainStatus.REMOVED
            )
        )
    )
    has_mailboxes = session.scalar(
        select(
            exists().where(
                Mailbox.workspace_id == workspace_id, Mailbox.status.in_(DOMAIN_SLOT_STATUSES)
            )
        )
    )
    if has_domains or has_mailboxes:
        raise Conflict(
            "Remove the workspace's domains and mailboxes before deleting it.",
            code="workspace_not_empty",
        )
    # The workspace's own rows (events included) go with it; this event outlives it.
    events.record(
        session,
        workspace_id=None,
        type="workspace.deleted",
        subject_type="workspace",
        subject_id=workspace.id,
        actor=principal.actor,
        name=workspace.name,
    )
    session.delete(workspace)
    session.flush()


def get_billing(session: Session, principal: Principal, workspace_id: uuid.UUID) -> dict[str, Any]:
    member_of(session, principal, workspace_id, Role.ADMIN)
    workspace = session.get_one(Workspace, workspace_id)
    return {"workspace_id": workspace.id, "billing_details": workspace.billing_details}


def set_billing(
    session: Session, principal: Principal, workspace_id: uuid.UUID, details: dict[str, str]
) -> dict[str, Any]:
    member_of(session, principal, workspace_id, Role.ADMIN)
    workspace = session.get_one(Workspace, workspace_id, with_for_update=True)
    workspace.billing_details = details
    events.record(
        session,
        workspace_id=workspace.id,
        type="workspace.billing_updated",
        subject_type="workspace",
        subject_id=workspace.id,
        actor=principal.actor,
        fields=sorted(details),
    )
    session.flush()
    return {"workspace_id": workspace.id, "billing_details": workspace.billing_details}
