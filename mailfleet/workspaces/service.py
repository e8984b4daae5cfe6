"""Workspaces (the tenants), their members, invitations and billing details."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.exceptions import Conflict
from mailfleet.models import Membership, Role, User, Workspace


def create_workspace(session: Session, *, owner: User, name: str) -> Workspace:
    name = name.strip()
    clash = session.scalar(
        select(Workspace.id).where(Workspace.owner_id == owner.id, Workspace.name == name)
    )
    if clash is not None:
        raise Conflict(
            f"You already own a workspace named {name!r}.",
            code="workspace_name_taken",
            field="name",
        )
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
