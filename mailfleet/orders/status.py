"""An order's status: opened PENDING, then following its mailboxes.

There is no command that sets it: `derive` is its whole transition table (a function of its
mailboxes' statuses), applied by `refresh` after every mailbox move (`mailboxes.transitions`
calls it, registered below). `open_orders` and `refresh` are the only places an order's status
is set, each recording its event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.mailboxes import transitions as mailbox_transitions
from mailfleet.models import Mailbox, MailboxOrder, MailboxStatus, MailboxType, OrderStatus

# What a new order starts as; afterwards its status is `derive`d, never set by hand.
INITIAL = OrderStatus.PENDING
# Statuses a mailbox reaches only after it was provisioned successfully.
_DELIVERED = frozenset(
    {MailboxStatus.ACTIVE, MailboxStatus.SUSPENDED, MailboxStatus.REMOVAL_SCHEDULED}
)


def derive(statuses: Iterable[MailboxStatus], current: OrderStatus) -> OrderStatus:
    """All delivered -> COMPLETED; all failed -> FAILED; only those two -> PARTIAL;
    anything provisioning (or started next to waiting ones) -> IN_PROGRESS; else PENDING.

    REMOVED mailboxes say nothing about fulfilment and are left out; an order whose
    mailboxes are all removed keeps its status.
    """
    present = {s for s in statuses if s != MailboxStatus.REMOVED}
    if not present:
        return current
    delivered = bool(present & _DELIVERED)
    failed = MailboxStatus.FAILED in present
    waiting = present & {MailboxStatus.PENDING, MailboxStatus.PROVISIONING}
    if not waiting:
        if delivered and failed:
            return OrderStatus.PARTIAL
        return OrderStatus.COMPLETED if delivered else OrderStatus.FAILED
    if MailboxStatus.PROVISIONING in waiting or delivered or failed:
        return OrderStatus.IN_PROGRESS
    return OrderStatus.PENDING


@dataclass(frozen=True)
class NewOrder:
    workspace_id: uuid.UUID
    domain_id: uuid.UUID
    mailbox_type: MailboxType
    mailboxes: int


def open_order(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    domain_id: uuid.UUID,
    mailbox_type: MailboxType,
    user_id: uuid.UUID | None,
    actor: str,
    mailboxes: int,
    now: datetime,
) -> MailboxOrder:
    """A new order, PENDING, with its `order.created` event (flushed: its id is needed)."""
    new = NewOrder(workspace_id, domain_id, mailbox_type, mailboxes)
    return open_orders(session, [new], user_id=user_id, actor=actor, now=now)[0]


def open_orders(
    session: Session,
    new: Sequence[NewOrder],
    *,
    user_id: uuid.UUID | None,
    actor: str,
    now: datetime,
) -> list[MailboxOrder]:
    """New orders, PENDING, flushed in one batch with their `order.created` events in one
    insert (a renewal opens the scheduled orders of many workspaces at once)."""
    orders = [
        MailboxOrder(
            id=order_id,
            workspace_id=item.workspace_id,
            domain_id=item.domain_id,
            mailbox_type=item.mailbox_type,
            status=INITIAL,
            created_by_id=user_id,
            created_at=now,
            updated_at=now,
        )
        for order_id, item in zip(sorted(uuid7() for _ in new), new, strict=True)
    ]
    session.add_all(orders)
    session.flush()
    events.record_all(
        session,
        (
            events.NewEvent(
                item.workspace_id,
                EventType.ORDER_CREATED,
                "mailbox_order",
                order.id,
                actor,
                {
                    "domain_id": str(item.domain_id),
                    "mailbox_type": item.mailbox_type.value,
                    "mailboxes": item.mailboxes,
                },
            )
            for order, item in zip(orders, new, strict=True)
        ),
    )
    return orders


@mailbox_transitions.follow_orders
def refresh(session: Session, order_ids: Iterable[uuid.UUID], actor: str) -> None:
    """Re-derive the status of these orders from their mailboxes (two queries)."""
    ids = list({i for i in order_ids})
    if not ids:
        return
    session.flush()
    orders = session.scalars(select(MailboxOrder).where(MailboxOrder.id.in_(ids))).all()
    statuses: dict[uuid.UUID, list[MailboxStatus]] = {o.id: [] for o in orders}
    rows = session.execute(
        select(Mailbox.order_id, Mailbox.status).where(Mailbox.order_id.in_(ids))
    ).tuples()
    for order_id, mailbox_status in rows:
        if order_id is not None:
            statuses[order_id].append(mailbox_status)
    for order in orders:
        status = derive(statuses[order.id], order.status)
        if status == order.status:
            continue
        previous = order.status
        order.status = status
        if status == OrderStatus.COMPLETED:
            order.completed_at = clock.now()
        events.record(
            session,
            workspace_id=order.workspace_id,
            type=EventType.ORDER_STATUS_CHANGED,
            subject_type="mailbox_order",
            subject_id=order.id,
            actor=actor,
            previous=previous.value,
            status=status.value,
        )
