"""Workspaces, members and invitations paged by number, with the per-workspace totals the
compat surfaces list (Zapmail's workspace list shows each workspace's domain and mailbox
counts and its billing details). The rules stay in `service`, `members` and `invitations`:
these reads only check membership the same way."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mailfleet.auth.service import Principal
from mailfleet.kit.pagination import numbered_page
from mailfleet.models import (
    Domain,
    DomainStatus,
    Invitation,
    Mailbox,
    MailboxStatus,
    Membership,
    Role,
    User,
    Workspace,
)
from mailfleet.workspaces.invitations.service import InvitationView
from mailfleet.workspaces.members import MemberView
from mailfleet.workspaces.service import WorkspaceView, list_for, member_of


@dataclass(frozen=True)
class WorkspaceSummary:
    workspace: WorkspaceView
    domain_count: int
    mailbox_count: int
    billing_details: dict[str, Any] | None


def _counts(
    session: Session, ids: Collection[uuid.UUID]
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int], dict[uuid.UUID, Any]]:
    """Domains (not REMOVED), live mailboxes and billing details of `ids`: three grouped
    queries for the whole page, never one per workspace."""
    domains = dict(
        session.execute(
            select(Domain.workspace_id, func.count())
            .where(Domain.workspace_id.in_(ids), Domain.status != DomainStatus.REMOVED)
            .group_by(Domain.workspace_id)
        )
        .tuples()
        .all()
    )
    mailboxes = dict(
        session.execute(
            select(Mailbox.workspace_id, func.count())
            .where(
                Mailbox.workspace_id.in_(ids),
                Mailbox.status.not_in((MailboxStatus.REMOVED, MailboxStatus.FAILED)),
            )
            .group_by(Mailbox.workspace_id)
        )
        .tuples()
        .all()
    )
    billing = dict(
        session.execute(
            select(Workspace.id, Workspace.billing_details).where(Workspace.id.in_(ids))
        )
        .tuples()
        .all()
    )
    return domains, mailboxes, billing


def summaries(
    session: Session,
    principal: Principal,
    *,
    contains: str | None = None,
    page: int = 1,
    limit: int | None = None,
) -> tuple[list[WorkspaceSummary], int]:
    """The caller's workspaces (oldest membership first) whose name contains `contains`,
    page `page` of `limit` (all when None), with their totals; and how many matched. Billing
    details are None where the caller is below ADMIN."""
    views = list(list_for(session, principal))
    if contains:
        wanted = contains.strip().casefold()
        views = [view for view in views if wanted in view.name.casefold()]
    total = len(views)
    if limit is not None:
        views = views[(page - 1) * limit : page * limit]
    if not views:
        return [], total
    domains, mailboxes, billing = _counts(session, [view.id for view in views])
    found = [
        WorkspaceSummary(
            view,
            int(domains.get(view.id, 0)),
            int(mailboxes.get(view.id, 0)),
            # Billing details are an ADMIN's to read (as `service.get_billing` says): an EDITOR
            # or VIEWER sees the workspace listed without them.
            billing.get(view.id) if view.role.at_least(Role.ADMIN) else None,
        )
        for view in views
    ]
    return found, total


def member_page(
    session: Session, principal: Principal, workspace_id: uuid.UUID, *, page: int, limit: int
) -> tuple[Sequence[MemberView], int]:
    """The workspace's members, oldest first (the same role as `members.list_members`)."""
    member_of(session, principal, workspace_id, Role.OWNER)
    statement = (
        select(Membership, User.email, User.name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace_id)
        .order_by(Membership.created_at, Membership.id)
    )
    rows, total = numbered_page(
        session, cast("Select[Any]", statement), page=page, limit=limit, scalars=False
    )
    views = [
        MemberView(m.id, m.user_id, email, name, m.role, m.created_at) for m, email, name in rows
    ]
    return views, total


def invitation_page(
    session: Session,
    principal: Principal,
    workspace_id: uuid.UUID,
    *,
    page: int,
    limit: int,
) -> tuple[Sequence[InvitationView], int]:
    """The workspace's invitations of every status, newest first (the same role as
    `invitations.list_for_workspace`)."""
    member_of(session, principal, workspace_id, Role.OWNER)
    statement = (
        select(Invitation, Workspace.name)
        .join(Workspace, Workspace.id == Invitation.workspace_id)
        .where(Invitation.workspace_id == workspace_id)
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    )
    rows, total = numbered_page(
        session, cast("Select[Any]", statement), page=page, limit=limit, scalars=False
    )
    views = [
        InvitationView(
            i.id,
            i.workspace_id,
            name,
            i.email,
            i.role,
            i.status,
            i.invited_by_id,
            i.created_at,
            i.expires_at,
            i.responded_at,
        )
        for i, name in rows
    ]
    return views, total
