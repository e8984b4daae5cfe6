"""Every status change of a scheduled mailbox, through one table.

SCHEDULED -> CREATED (its renewal was paid and the order accepted it), SKIPPED (the order's
rules refused it, or billing failed, or the subscription was cancelled: `skip_reason` says
which) or CANCELLED (the customer removed it before its billing date). The three are final.
Each move records its event (scheduled_mailbox.created / skipped / removed). Never commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from mailfleet.billing.scheduled.errors import ScheduleClosed
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.kit import clock
from mailfleet.models import ScheduledMailbox, ScheduledMailboxStatus

S = ScheduledMailboxStatus
MOVES: Mapping[ScheduledMailboxStatus, frozenset[ScheduledMailboxStatus]] = {
    S.SCHEDULED: frozenset({S.CREATED, S.SKIPPED, S.CANCELLED}),
    S.CREATED: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
}
EVENTS = {
    S.CREATED: EventType.SCHEDULED_MAILBOX_CREATED,
    S.SKIPPED: EventType.SCHEDULED_MAILBOX_SKIPPED,
    S.CANCELLED: EventType.SCHEDULED_MAILBOX_REMOVED,
}


def move(
    session: Session,
    rows: Sequence[ScheduledMailbox],
    status: ScheduledMailboxStatus,
    *,
    actor: str,
    reason: str | None = None,
) -> None:
    """Move loaded (and locked) rows; `reason` is a SKIPPED row's `skip_reason`."""
    now = clock.now()
    for row in rows:
        if status not in MOVES[row.status]:
            raise ScheduleClosed(
                f"A {row.status.value} scheduled mailbox cannot become {status.value}."
            )
    previous = [row.status for row in rows]
    for row in rows:
        row.status = status
        row.updated_at = now
        if status == S.SKIPPED:
            row.skip_reason = (reason or "")[:500]
    session.flush()
    with events.batched(session):  # a renewal moves many at once: one insert of their events
        for row, was in zip(rows, previous, strict=True):
            record(session, EVENTS[status], row, actor, previous=was.value, reason=reason)


def record(
    session: Session, type: EventType, row: ScheduledMailbox, actor: str, **data: Any
) -> None:
    events.record(
        session,
        workspace_id=row.workspace_id,
        type=type,
        subject_type="scheduled_mailbox",
        subject_id=row.id,
        actor=actor,
        domain_id=str(row.domain_id),
        username=row.username,
        status=row.status.value,
        mailbox_id=str(row.mailbox_id) if row.mailbox_id else None,
        **data,
    )
