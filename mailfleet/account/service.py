"""Users and the account overview."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from mailfleet.auth.service import Principal
from mailfleet.billing import slots
from mailfleet.billing.subscriptions import service as subscription_service
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.exceptions import Conflict
from mailfleet.kit.passwords import hash_password
from mailfleet.models import (
    ApiKey,
    Domain,
    DomainStatus,
    MailboxOrder,
    MailboxType,
    Membership,
    OrderStatus,
    User,
    Workspace,
)


def create_user(
    session: Session,
    *,
    email: str,
    name: str = "",
    password: str | None = None,
    is_operator: bool = False,
) -> User:
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(
            f"A user with email {email} already exists.", code="user_exists", field="email"
        )
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password) if password else None,
        is_operator=is_operator,
    )
    session.add(user)
    session.flush()
    return user


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def overview(
    session: Session, principal: Principal, workspace_id: uuid.UUID | None
) -> dict[str, Any]:
    """The caller, their workspaces and, for the request's workspace, slots and counts.

    A fixed handful of grouped queries, whatever the size of the account.
    """
    user = session.get_one(User, principal.user_id)
    memberships = select(Workspace.id, Workspace.name, Membership.role).join(
        Membership, Membership.workspace_id == Workspace.id
    )
    memberships = memberships.where(Membership.user_id == user.id)
    if principal.pinned_workspace_id is not None:
        memberships = memberships.where(Workspace.id == principal.pinned_workspace_id)
    workspaces = [
        {"id": id_, "name": name, "role": role}
        for id_, name, role in session.execute(
            memberships.order_by(Membership.created_at, Membership.id)
        )
    ]
    current = next((w for w in workspaces if w["id"] == workspace_id), None)
    active_keys = session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
    )
    summary = {
        "domains": 0,
        "active_domains": 0,
        "pending_orders": 0,
        "active_api_keys": int(active_keys or 0),
    }
    allocations: dict[MailboxType, dict[str, int]] = {}
    if current is not None and workspace_id is not None:
        summary.update(_workspace_counts(session, workspace_id))
        allocations = {
            kind: {"allocated": u.allocated, "used": u.used, "remaining": u.remaining}
            for kind, u in slots.usage(session, workspace_id).items()
        }
    return {
        "user": user,
        "workspaces": workspaces,
        "workspace": current,
        "allocations": allocations,
        "summary": summary,
    }


def _workspace_counts(session: Session, workspace_id: uuid.UUID) -> dict[str, int]:
    live, active = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Domain.status == DomainStatus.ACTIVE, 1), else_=0)), 0),
        ).where(Domain.workspace_id == workspace_id, Domain.status != DomainStatus.REMOVED)
    ).one()
    pending = session.scalar(
        select(func.count())
        .select_from(MailboxOrder)
        .where(
            MailboxOrder.workspace_id == workspace_id,
            MailboxOrder.status.in_((OrderStatus.PENDING, OrderStatus.IN_PROGRESS)),
        )
    )
    return {
        "domains": int(live),
        "active_domains": int(active),
        "pending_orders": int(pending or 0),
    }


@dataclass(frozen=True)
class UserDetails:
    """The caller with their plan, slots and balance in the request's workspace."""

    user: User
    # The newest subscription holding slots now (None without one).
    active_plan: str | None
    plan_ends_on: datetime | None
    purchased_mailboxes: int
    assigned_mailboxes: int
    wallet_balance_cents: int


def user_details(
    session: Session, principal: Principal, workspace_id: uuid.UUID | None
) -> UserDetails:
    """Slots summed over every mailbox type; zeros without a workspace."""
    user = session.get_one(User, principal.user_id)
    if workspace_id is None:
        return UserDetails(user, None, None, 0, 0, 0)
    usage = slots.usage(session, workspace_id).values()
    plan = subscription_service.current_plan(session, workspace_id)
    purse = wallet_service.find_wallet(session, workspace_id)
    return UserDetails(
        user=user,
        active_plan=plan[0] if plan else None,
        plan_ends_on=plan[1] if plan else None,
        purchased_mailboxes=sum(u.allocated for u in usage),
        assigned_mailboxes=sum(u.used for u in usage),
        wallet_balance_cents=purse.balance_cents if purse else 0,
    )
