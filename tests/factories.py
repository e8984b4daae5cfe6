"""Factories: plain functions that build rows through the services and return what tests need."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from mailfleet.account.service import create_user
from mailfleet.auth.service import issue_key
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import (
    Domain,
    DomainStatus,
    MailboxType,
    Membership,
    Role,
    User,
)
from mailfleet.operator.service import set_allocation
from mailfleet.workspaces.service import create_workspace

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


@dataclass
class Caller:
    """A user with an API key, acting in one workspace."""

    user_id: uuid.UUID
    email: str
    token: str
    workspace_id: uuid.UUID
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "X-Workspace-Id": str(self.workspace_id),
            **self.extra_headers,
        }


def make_user(db: Database, *, operator: bool = False, email: str | None = None) -> User:
    with db.transaction() as session:
        return create_user(
            session,
            email=email or f"{unique('user')}@example.com",
            name="Test User",
            is_operator=operator,
        )


def make_tenant(db: Database, *, operator: bool = False) -> Caller:
    """A new user owning a new workspace, with a key."""
    with db.transaction() as session:
        user = create_user(
            session, email=f"{unique('owner')}@example.com", name="Owner", is_operator=operator
        )
        workspace = create_workspace(session, owner=user, name=unique("Workspace "))
        token = issue_key(session, user=user, name="test").token
        return Caller(user.id, user.email, token, workspace.id)


def make_member(db: Database, owner: Caller, role: Role) -> Caller:
    """Another user with `role` in the owner's workspace."""
    with db.transaction() as session:
        user = create_user(session, email=f"{unique('member')}@example.com", name="Member")
        session.add(Membership(workspace_id=owner.workspace_id, user_id=user.id, role=role))
        token = issue_key(session, user=user, name="test").token
        return Caller(user.id, user.email, token, owner.workspace_id)


def make_domain(
    db: Database,
    workspace_id: uuid.UUID,
    *,
    name: str | None = None,
    status: DomainStatus = DomainStatus.ACTIVE,
    mailbox_type: MailboxType | None = None,
) -> Domain:
    with db.transaction() as session:
        domain = Domain(
            workspace_id=workspace_id,
            name=name or f"{unique('domain')}.com",
            unicode_name=name or "",
            status=status,
            mailbox_type=mailbox_type,
            nameserver_1="ns1.mailfleet.local",
            nameserver_2="ns2.mailfleet.local",
            tags=[],
            activated_at=clock.now() if status == DomainStatus.ACTIVE else None,
        )
        domain.unicode_name = domain.unicode_name or domain.name
        session.add(domain)
        session.flush()
        return domain


def give_slots(
    db: Database, workspace_id: uuid.UUID, mailbox_type: MailboxType, slots: int
) -> None:
    with db.transaction() as session:
        set_allocation(
            session, workspace_id=workspace_id, mailbox_type=mailbox_type, slots=slots, actor="test"
        )


def hours_ago(hours: float) -> object:
    return clock.now() - timedelta(hours=hours)
