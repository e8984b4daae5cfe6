"""What a renewal or an expiry does to the workspace's mailboxes of the subscription's types.

At renewal (the new period starts at `start`):
  1. removals scheduled at renewal are applied (REMOVAL_SCHEDULED -> REMOVED, deprovisioned);
  2. mailboxes removed instantly during the period stop holding their slot (their
     `expires_at`, which held it, becomes the renewal date);
  3. live mailboxes carry the new period's end as their `expires_at` (their renewal date).
The subscription is the renewal date's authority for its types; `mailboxes.tasks`'
sweep_due_removals still serves workspaces whose slots are operator grants only.

At expiry the subscription's slots stop counting (billing.slots counts ACTIVE and PAST_DUE
subscriptions only); the mailboxes it "held" are the workspace's newest live mailboxes of its
types beyond what the remaining allocation (grants, other subscriptions, add-ons) covers. They
are SUSPENDED, and deprovisioned `expired_deprovision_days` later (`deprovision_due`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.billing import slots
from mailfleet.billing.renewals.hooks import mailbox_side
from mailfleet.models import Mailbox, MailboxStatus, MailboxType, Subscription

M = MailboxStatus
# Live mailboxes that can be suspended (an account exists, or is about to).
SUSPENDABLE = (M.ACTIVE, M.REMOVAL_SCHEDULED)
RENEWING = (M.PENDING, M.PROVISIONING, M.ACTIVE)


def types_of(subscription: Subscription) -> list[MailboxType]:
    return types_of_values(subscription.mailbox_types)


def types_of_values(values: Sequence[str]) -> list[MailboxType]:
    return [MailboxType(t) for t in values]


def at_renewal(
    session: Session, subscription: Subscription, start: datetime, end: datetime, *, actor: str
) -> None:
    at_renewal_many(
        session, [subscription.workspace_id], types_of(subscription), start, end, actor=actor
    )


def at_renewal_many(
    session: Session,
    workspace_ids: Sequence[uuid.UUID],
    types: Sequence[MailboxType],
    start: datetime,
    end: datetime,
    *,
    actor: str,
) -> None:
    """Steps 1-3 of the module docstring for workspaces whose subscriptions of these types
    renewed for the same period: three set-based statements whatever their number."""
    mailbox_side().remove_scheduled(session, workspace_ids, types, start, actor=actor)
    of_types = (Mailbox.workspace_id.in_(workspace_ids), Mailbox.mailbox_type.in_(types))
    session.execute(
        update(Mailbox)
        .where(*of_types, Mailbox.status == M.REMOVED, Mailbox.expires_at > start)
        .values(expires_at=start)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Mailbox)
        .where(*of_types, Mailbox.status.in_(RENEWING))
        .values(expires_at=end)
        .execution_options(synchronize_session=False)
    )


def held_by_expired(session: Session, subscription: Subscription, now: datetime) -> list[uuid.UUID]:
    """The newest live mailboxes of each of its types' pools beyond the remaining allocation."""
    chosen: list[uuid.UUID] = []
    seen: set[frozenset[MailboxType]] = set()
    for mailbox_type in types_of(subscription):
        found = slots.quota(session, subscription.workspace_id, mailbox_type, now)
        if found.pool in seen:
            continue
        seen.add(found.pool)
        excess = found.used - found.allocated
        if excess <= 0:
            continue
        chosen += session.scalars(
            select(Mailbox.id)
            .where(
                Mailbox.workspace_id == subscription.workspace_id,
                Mailbox.mailbox_type.in_(found.pool),
                Mailbox.status.in_(SUSPENDABLE),
            )
            .order_by(Mailbox.created_at.desc(), Mailbox.id.desc())
            .limit(excess)
        )
    return chosen


def at_expiry(
    session: Session, subscription: Subscription, now: datetime, *, until: datetime, actor: str
) -> list[uuid.UUID]:
    session.flush()  # the EXPIRED status must be what the quota reads
    ids = held_by_expired(session, subscription, now)
    if not ids:
        return []
    return mailbox_side().suspend(
        session,
        ids,
        until=until,
        actor=actor,
        reason=f"subscription {subscription.public_id} expired",
    )


def deprovision_due(session: Session, now: datetime, *, actor: str, limit: int) -> int:
    """Suspended mailboxes whose second grace period has ended go (set-based, a chunk)."""
    ids = list(
        session.scalars(
            select(Mailbox.id)
            .where(Mailbox.status == M.SUSPENDED, Mailbox.expires_at <= now)
            .order_by(Mailbox.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return 0
    return len(mailbox_side().deprovision(session, ids, actor=actor))
