"""Workspace members: list, change role, remove. A workspace always keeps at least one OWNER.

Only OWNERs manage members, and the member list (everyone's email and role) is part of managing
them; any member may still leave on their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from mailfleet.auth.service import Principal
from mailfleet.events import service as events
from mailfleet.exceptions import Conflict, NotFound
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import Membership, Role, User
from mailfleet.workspaces.service import member_of


@dataclass(frozen=True)
class MemberView:
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    joined_at: datetime


def _member_query(workspace_id: uuid.UUID) -> Select[Any]:
    """Rows of (Membership, email, name); typed loosely so `paginate` accepts it."""
    statement = (
        select(Membership, User.email, User.name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace_id)
    )
    return cast("Select[Any]", statement)


def _view(membership: Membership, email: str, name: str) -> MemberView:
    return MemberView(
        membership.id, membership.user_id, email, name, membership.role, membership.created_at
    )


def list_members(
    session: Session,
    principal: Principal,
    workspace_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[MemberView], str | None]:
    member_of(session, principal, workspace_id, Role.OWNER)
    rows = session.execute(paginate(_member_query(workspace_id), Membership.id, cursor, limit))
    views = [_view(membership, email, name) for membership, email, name in rows]
    return split_page(views, limit, lambda m: m.id)


def _target(
    session: Session, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[Membership, str, str]:
    row = session.execute(
        _member_query(workspace_id)
        .where(Membership.user_id == user_id)
        .with_for_update(of=Membership)
    ).first()
    if row is None:
        raise NotFound(f"Member {user_id} not found.", code="member_not_found")
    return row[0], row[1], row[2]


def _ensure_another_owner(session: Session, workspace_id: uuid.UUID) -> None:
    """Refuse to take away the last OWNER. The owners' rows are locked while we count."""
    owners = session.scalars(
        select(Membership.id)
        .where(Membership.workspace_id == workspace_id, Membership.role == Role.OWNER)
        .with_for_update()
    ).all()
    if len(owners) <= 1:
        raise Conflict(
            "A workspace needs at least one OWNER; make someone else OWNER first.",
            code="last_owner",
        )


def change_role(
    session: Session,
    principal: Principal,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    role: Role,
) -> MemberView:
    member_of(session, principal, workspace_id, Role.OWNER)
    membership, email, name = _target(session, workspace_id, user_id)
    previous = membership.role
    if previous == role:
        return _view(membership, email, name)
    if previous == Role.OWNER:
        _ensure_another_owner(session, workspace_id)
    membership.role = role
    events.record(
        session,
        workspace_id=workspace_id,
        type="member.role_changed",
        subject_type="membership",
        subject_id=membership.id,
        actor=principal.actor,
        user_id=str(user_id),
        previous=previous.value,
        role=role.value,
    )
    session.flush()
    return _view(membership, email, name)


def remove_member(
    session: Session, principal: Principal, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID:
    """OWNERs remove anyone; any member may remove themself. Returns the membership id."""
    leaving = user_id == principal.user_id
    member_of(session, principal, workspace_id, Role.VIEWER if leaving else Role.OWNER)
    membership, _, _ = _target(session, workspace_id, user_id)
    if membership.role == Role.OWNER:
        _ensure_another_owner(session, workspace_id)
    session.delete(membership)
    events.record(
        session,
        workspace_id=workspace_id,
        type="member.left" if leaving else "member.removed",
        subject_type="membership",
        subject_id=membership.id,
        actor=principal.actor,
        user_id=str(user_id),
        role=membership.role.value,
    )
    session.flush()
    return membership.id
