"""Every change of a mailbox's status: the allowed moves, their timestamps, their events.

`MOVES` is the one table of allowed status changes. `move` (one loaded mailbox), `move_rows`
(a bulk UPDATE by primary key, each row with its own columns), `move_where` (one set-based
UPDATE ... WHERE status IN the allowed sources) and `insert_ordered` (new mailboxes) are the
only ways a status changes; each records `mailbox.status_changed`, which the audit trail and
the webhooks read, and then lets the orders of the moved mailboxes re-derive their status.

Orders sit above mailboxes (an order creates its mailboxes under the mailbox rules), yet an
order's status follows its mailboxes': `orders.status` registers that step here
(`follow_orders`), and the job runtime loads it (`jobs.queue.HOOK_MODULES`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models import Mailbox, MailboxStatus

S = MailboxStatus
# Allowed status changes. PENDING -> ACTIVE and -> FAILED are an operator fulfilling a manual
# order; a FAILED mailbox goes back to PENDING only when retried; REMOVED is final.
MOVES: Mapping[MailboxStatus, frozenset[MailboxStatus]] = {
    S.PENDING: frozenset({S.PROVISIONING, S.ACTIVE, S.FAILED, S.REMOVED}),
    S.PROVISIONING: frozenset({S.ACTIVE, S.FAILED, S.REMOVED}),
    # SUSPENDED: its subscription expired (billing.renewals); removed after a second grace,
    # or ACTIVE again once the workspace has slots for it (mailboxes.suspension.reactivate).
    S.ACTIVE: frozenset({S.REMOVAL_SCHEDULED, S.REMOVED, S.SUSPENDED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.REMOVED}),
    S.REMOVAL_SCHEDULED: frozenset({S.ACTIVE, S.REMOVED, S.SUSPENDED}),
    S.FAILED: frozenset({S.PENDING}),
    S.REMOVED: frozenset(),
}
# What an ordered mailbox starts as (`insert_ordered`).
INITIAL = S.PENDING

OrderRefresh = Callable[[Session, Collection[uuid.UUID], str], None]
_order_refresh: list[OrderRefresh] = []


class MailboxStatusConflict(Conflict):
    """A status change `MOVES` does not allow."""

    code = "mailbox_status_conflict"


def follow_orders(refresh: OrderRefresh) -> OrderRefresh:
    """Register how orders re-derive their status after their mailboxes moved (orders.status)."""
    if refresh not in _order_refresh:
        _order_refresh.append(refresh)
    return refresh


def check(previous: MailboxStatus, status: MailboxStatus) -> None:
    if status not in MOVES[previous]:
        raise MailboxStatusConflict(f"A {previous.value} mailbox cannot become {status.value}.")


def sources(status: MailboxStatus) -> list[MailboxStatus]:
    """The statuses a mailbox may move to `status` from."""
    return [previous for previous, targets in MOVES.items() if status in targets]


def stamps(
    previous: MailboxStatus, status: MailboxStatus, *, now: datetime, reason: str | None
) -> dict[str, Any]:
    """The columns a move sets besides the status itself."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == S.ACTIVE and previous in (S.PENDING, S.PROVISIONING):
        values.update(activated_at=now, failure_reason=None, next_check_at=None)
    elif status == S.FAILED:
        values.update(failure_reason=reason, next_check_at=None)
    elif status == S.PENDING:
        # Tried again from the start (retry): no reason, no attempts spent yet.
        values.update(failure_reason=None, provision_attempts=0)
    elif status == S.REMOVAL_SCHEDULED:
        values["remove_at_renewal"] = True
    elif status == S.ACTIVE and previous in (S.REMOVAL_SCHEDULED, S.SUSPENDED):
        values["remove_at_renewal"] = False
    elif status == S.REMOVED:
        values["removed_at"] = now
    return values


def move(
    session: Session,
    mailbox: Mailbox,
    status: MailboxStatus,
    *,
    actor: str,
    reason: str | None = None,
) -> None:
    """Move a loaded (and locked) mailbox; `reason` is what the event says, and the failure
    reason of a FAILED one."""
    previous = mailbox.status
    check(previous, status)
    for column, value in stamps(previous, status, now=clock.now(), reason=reason).items():
        setattr(mailbox, column, value)
    events.record(
        session,
        workspace_id=mailbox.workspace_id,
        type=EventType.MAILBOX_STATUS_CHANGED,
        subject_type="mailbox",
        subject_id=mailbox.id,
        actor=actor,
        previous=previous.value,
        status=status.value,
        reason=reason,
    )
    _refresh_orders(session, [mailbox.order_id], actor)


@dataclass(frozen=True)
class Move:
    """One row of a bulk move: the mailbox as read under lock, and where it goes."""

    mailbox_id: uuid.UUID
    workspace_id: uuid.UUID
    order_id: uuid.UUID | None
    previous: MailboxStatus
    status: MailboxStatus
    reason: str | None = None
    # Other columns the caller changes in the same statement (credentials, leases); they win
    # over the move's own (a failure reason cut to its column's size).
    values: dict[str, Any] = field(default_factory=dict)


def move_rows(session: Session, moves: Sequence[Move], *, actor: str) -> None:
    """Apply many moves in one bulk UPDATE by primary key and one insert of their events."""
    if not moves:
        return
    now = clock.now()
    for item in moves:
        check(item.previous, item.status)
    session.execute(
        update(Mailbox),
        [
            {
                "id": item.mailbox_id,
                **stamps(item.previous, item.status, now=now, reason=item.reason),
                **item.values,
            }
            for item in moves
        ],
    )
    _record(session, moves, actor)
    _refresh_orders(session, [item.order_id for item in moves], actor)


def move_where(
    session: Session,
    ids: Sequence[uuid.UUID],
    previous: MailboxStatus,
    status: MailboxStatus,
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """One set-based UPDATE of those of `ids` still in `previous`; returns the ids moved."""
    check(previous, status)
    rows = session.execute(
        select(Mailbox.id, Mailbox.workspace_id, Mailbox.order_id)
        .where(Mailbox.id.in_(ids), Mailbox.status == previous)
        .order_by(Mailbox.id)
        .with_for_update()
    ).all()
    if not rows:
        return []
    moved = [row.id for row in rows]
    session.execute(
        update(Mailbox)
        .where(Mailbox.id.in_(moved), Mailbox.status == previous)
        .values(**stamps(previous, status, now=now or clock.now(), reason=None))
        .execution_options(synchronize_session=False)
    )
    moves = [Move(r.id, r.workspace_id, r.order_id, previous, status, reason) for r in rows]
    _record(session, moves, actor)
    _refresh_orders(session, [row.order_id for row in rows], actor)
    return moved


def insert_ordered(
    session: Session, rows: list[dict[str, Any]], *, actor: str, reason: str
) -> None:
    """Insert new mailboxes as PENDING (one executemany) with their events. Their order was
    created PENDING with them, which is what its status derives to: nothing to refresh."""
    for row in rows:
        row["status"] = INITIAL
    session.execute(insert(cast(Table, Mailbox.__table__)), rows)
    events.record_all(
        session,
        (
            events.NewEvent(
                row["workspace_id"],
                EventType.MAILBOX_STATUS_CHANGED,
                "mailbox",
                row["id"],
                actor,
                {"previous": None, "status": INITIAL.value, "reason": reason},
            )
            for row in rows
        ),
    )


def _record(session: Session, moves: Iterable[Move], actor: str) -> None:
    events.record_all(
        session,
        (
            events.NewEvent(
                item.workspace_id,
                EventType.MAILBOX_STATUS_CHANGED,
                "mailbox",
                item.mailbox_id,
                actor,
                {
                    "previous": item.previous.value,
                    "status": item.status.value,
                    "reason": item.reason,
                },
            )
            for item in moves
        ),
    )


def _refresh_orders(session: Session, order_ids: Iterable[uuid.UUID | None], actor: str) -> None:
    ids = {order_id for order_id in order_ids if order_id is not None}
    if not ids:
        return
    if not _order_refresh:
        # Loud: an order left behind its mailboxes would show a stale status forever.
        raise RuntimeError("mailfleet.orders.status is not loaded: no order follows its mailboxes")
    for refresh in _order_refresh:
        refresh(session, ids, actor)
