"""Slots: how many mailboxes of each type a workspace holds against its allocation (rule 4).

A mailbox holds a slot while it is live, and also after removal until its renewal date: removed
instantly or at renewal, the slot was paid for the period.

A type's allocation is the sum of the operator's grant (the `allocations` row), the slots of
the ACTIVE or PAST_DUE subscriptions whose plan covers the type, and the add-on slots of the
type bought on those subscriptions for their current period. A subscription covering several
types (Google and Microsoft under `billing_unified_provider`) pools them: its slots hold any
mix of those types, so the check counts the pool's grants, add-ons and held slots together.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.kit import clock
from mailfleet.models import (
    AddonSlots,
    Allocation,
    Mailbox,
    MailboxStatus,
    MailboxType,
    SlotCount,
    Subscription,
    SubscriptionStatus,
)

# The statuses whose slots count (billing.subscriptions.transitions.HOLDING_SLOTS; repeated
# here because billing.slots sits below the subscriptions package).
_HOLDING = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


@dataclass(frozen=True)
class Usage:
    mailbox_type: MailboxType
    allocated: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.allocated - self.used)


def held_slots(
    session: Session,
    workspace_id: uuid.UUID,
    now: datetime,
    mailbox_type: MailboxType | None = None,
) -> dict[MailboxType, int]:
    """Slots held per type: the live mailboxes (`SlotCount`, one row per type) plus the removed
    ones still holding theirs until renewal (an index range of those alone)."""
    live = select(SlotCount.mailbox_type, SlotCount.live).where(
        SlotCount.workspace_id == workspace_id
    )
    removed = (
        select(Mailbox.mailbox_type, func.count())
        .where(
            Mailbox.workspace_id == workspace_id,
            Mailbox.status == MailboxStatus.REMOVED,
            Mailbox.expires_at > now,
        )
        .group_by(Mailbox.mailbox_type)
    )
    if mailbox_type is not None:
        live = live.where(SlotCount.mailbox_type == mailbox_type)
        removed = removed.where(Mailbox.mailbox_type == mailbox_type)
    held: dict[MailboxType, int] = defaultdict(int)
    for statement in (live, removed):
        for kind, count in session.execute(statement):
            held[kind] += count
    return held


@dataclass(frozen=True)
class Bought:
    """What the workspace's live subscriptions give: slots per pool, add-ons per type."""

    # (types covered, slots) per holding subscription.
    plans: list[tuple[frozenset[MailboxType], int]]
    addons: dict[MailboxType, int]

    def pool(self, mailbox_type: MailboxType) -> frozenset[MailboxType]:
        """The types sharing slots with `mailbox_type` (itself alone unless a plan pools)."""
        pool = {mailbox_type}
        for types, _ in self.plans:
            if mailbox_type in types:
                pool |= types
        return frozenset(pool)

    def slots_for(self, pool: frozenset[MailboxType]) -> int:
        plans = sum(slots for types, slots in self.plans if types & pool)
        return plans + sum(self.addons.get(t, 0) for t in pool)


def bought(session: Session, workspace_id: uuid.UUID, now: datetime) -> Bought:
    """Two small queries: the holding subscriptions, and their current add-ons per type (none
    to ask for without a holding subscription: a workspace on grants alone, the order path's
    common case, costs one)."""
    plans = [
        (frozenset(MailboxType(t) for t in types), slots)
        for types, slots in session.execute(
            select(Subscription.mailbox_types, Subscription.slots).where(
                Subscription.workspace_id == workspace_id, Subscription.status.in_(_HOLDING)
            )
        )
    ]
    if not plans:
        return Bought(plans, {})
    addons = {
        kind: int(quantity)
        for kind, quantity in session.execute(
            select(AddonSlots.mailbox_type, func.sum(AddonSlots.quantity))
            .join(Subscription, Subscription.id == AddonSlots.subscription_id)
            .where(
                AddonSlots.workspace_id == workspace_id,
                AddonSlots.period_start <= now,
                AddonSlots.period_end > now,
                Subscription.status.in_(_HOLDING),
            )
            .group_by(AddonSlots.mailbox_type)
        )
    }
    return Bought(plans, addons)


def grants(session: Session, workspace_id: uuid.UUID) -> dict[MailboxType, int]:
    return {
        kind: int(slots)
        for kind, slots in session.execute(
            select(Allocation.mailbox_type, Allocation.slots).where(
                Allocation.workspace_id == workspace_id
            )
        )
    }


def lock_pool(
    session: Session, workspace_id: uuid.UUID, mailbox_type: MailboxType, now: datetime
) -> Allocation | None:
    """Lock the Allocation row of every type pooled with `mailbox_type`; returns its own row.

    The quota check is check-then-insert, serialised by these row locks: a GOOGLE and a
    MICROSOFT order drawing on one unified pool must wait for each other, so each locks the
    whole pool's rows, sorted by type so that two of them never deadlock (SELECT ... FOR
    UPDATE on PostgreSQL; SQLite's write lock already serialises writers)."""
    return lock_pools(session, {(workspace_id, mailbox_type)}, now).get(
        (workspace_id, mailbox_type)
    )


def lock_pools(
    session: Session, keys: Collection[tuple[uuid.UUID, MailboxType]], now: datetime
) -> dict[tuple[uuid.UUID, MailboxType], Allocation]:
    """`lock_pool` for many (workspace, type) at once, in two queries: rows locked sorted by
    workspace then type (the order a single one takes too), each key's own row returned."""
    if not keys:
        return {}
    workspaces = sorted({workspace_id for workspace_id, _ in keys})
    covers: dict[uuid.UUID, list[frozenset[MailboxType]]] = defaultdict(list)
    for workspace_id, types in session.execute(
        select(Subscription.workspace_id, Subscription.mailbox_types).where(
            Subscription.workspace_id.in_(workspaces), Subscription.status.in_(_HOLDING)
        )
    ):
        covers[workspace_id].append(frozenset(MailboxType(t) for t in types))
    pooled: set[MailboxType] = set()
    for workspace_id, mailbox_type in keys:
        pooled.add(mailbox_type)
        pooled.update(*[types for types in covers[workspace_id] if mailbox_type in types])
    rows = session.scalars(
        select(Allocation)
        .where(Allocation.workspace_id.in_(workspaces), Allocation.mailbox_type.in_(pooled))
        .order_by(Allocation.workspace_id, Allocation.mailbox_type)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = {(row.workspace_id, row.mailbox_type): row for row in rows}
    return {key: found[key] for key in keys if key in found}


@dataclass(frozen=True)
class Quota:
    """The slots a new mailbox of a type draws on: its pool's allocation and what it holds."""

    pool: frozenset[MailboxType]
    allocated: int
    used: int


def quota(
    session: Session,
    workspace_id: uuid.UUID,
    mailbox_type: MailboxType,
    now: datetime,
    *,
    granted: int | None = None,
) -> Quota:
    """For the order path: `granted` is the type's grant when the caller has it locked already
    (one query less unless the type is pooled with others)."""
    purchased = bought(session, workspace_id, now)
    pool = purchased.pool(mailbox_type)
    if granted is None or len(pool) > 1:
        per_type = grants(session, workspace_id)
        granted = sum(per_type.get(t, 0) for t in pool)
    held = held_slots(session, workspace_id, now, mailbox_type if len(pool) == 1 else None)
    used = sum(held[t] for t in pool)
    return Quota(pool, granted + purchased.slots_for(pool), used)


def quotas(
    session: Session, keys: Collection[tuple[uuid.UUID, MailboxType]], now: datetime
) -> dict[tuple[uuid.UUID, MailboxType], Quota]:
    """`quota` for many (workspace, type) at once, in five queries whatever their number (a
    renewal's batch of scheduled orders): the same sums, grouped by workspace."""
    workspaces = sorted({workspace_id for workspace_id, _ in keys})
    if not workspaces:
        return {}
    plans: dict[uuid.UUID, list[tuple[frozenset[MailboxType], int]]] = defaultdict(list)
    for workspace_id, types, slots in session.execute(
        select(Subscription.workspace_id, Subscription.mailbox_types, Subscription.slots).where(
            Subscription.workspace_id.in_(workspaces), Subscription.status.in_(_HOLDING)
        )
    ):
        plans[workspace_id].append((frozenset(MailboxType(t) for t in types), slots))
    addons = _per_type(
        session,
        select(AddonSlots.workspace_id, AddonSlots.mailbox_type, func.sum(AddonSlots.quantity))
        .join(Subscription, Subscription.id == AddonSlots.subscription_id)
        .where(
            AddonSlots.workspace_id.in_(workspaces),
            AddonSlots.period_start <= now,
            AddonSlots.period_end > now,
            Subscription.status.in_(_HOLDING),
        )
        .group_by(AddonSlots.workspace_id, AddonSlots.mailbox_type),
    )
    granted = _per_type(
        session,
        select(Allocation.workspace_id, Allocation.mailbox_type, Allocation.slots).where(
            Allocation.workspace_id.in_(workspaces)
        ),
    )
    held = _held_many(session, workspaces, now)
    found = {}
    for workspace_id, mailbox_type in keys:
        purchased = Bought(plans[workspace_id], addons[workspace_id])
        pool = purchased.pool(mailbox_type)
        allocated = sum(granted[workspace_id].get(t, 0) for t in pool)
        used = sum(held[workspace_id].get(t, 0) for t in pool)
        found[(workspace_id, mailbox_type)] = Quota(
            pool, allocated + purchased.slots_for(pool), used
        )
    return found


def _per_type(session: Session, statement: Any) -> dict[uuid.UUID, dict[MailboxType, int]]:
    """Rows of (workspace, type, number), summed per workspace and type."""
    result: dict[uuid.UUID, dict[MailboxType, int]] = defaultdict(lambda: defaultdict(int))
    for workspace_id, kind, number in session.execute(statement):
        result[workspace_id][kind] += int(number or 0)
    return result


def _held_many(
    session: Session, workspaces: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, dict[MailboxType, int]]:
    """`held_slots` for many workspaces: two queries."""
    live = select(SlotCount.workspace_id, SlotCount.mailbox_type, SlotCount.live).where(
        SlotCount.workspace_id.in_(workspaces)
    )
    removed = (
        select(Mailbox.workspace_id, Mailbox.mailbox_type, func.count())
        .where(
            Mailbox.workspace_id.in_(workspaces),
            Mailbox.status == MailboxStatus.REMOVED,
            Mailbox.expires_at > now,
        )
        .group_by(Mailbox.workspace_id, Mailbox.mailbox_type)
    )
    held = _per_type(session, live)
    for workspace_id, per_type in _per_type(session, removed).items():
        for kind, count in per_type.items():
            held[workspace_id][kind] += count
    return held


def usage(session: Session, workspace_id: uuid.UUID) -> dict[MailboxType, Usage]:
    """Allocated, used and remaining slots per type, in five small queries. A pooled type shows
    its pool's figures."""
    now = clock.now()
    granted = grants(session, workspace_id)
    purchased = bought(session, workspace_id, now)
    held = held_slots(session, workspace_id, now)
    result = {}
    for kind in MailboxType:
        pool = purchased.pool(kind)
        allocated = sum(granted.get(t, 0) for t in pool) + purchased.slots_for(pool)
        result[kind] = Usage(kind, allocated, sum(held[t] for t in pool))
    return result
