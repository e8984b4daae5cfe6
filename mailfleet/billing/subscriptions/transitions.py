"""Every status change of a subscription, through one table.

ACTIVE -> PAST_DUE (a renewal charge failed) -> ACTIVE (a retry paid) or EXPIRED (the grace
period ran out); ACTIVE -> CANCELLED (a cancellation reached its period end); ACTIVE or PAST_DUE
-> EXPIRED (replaced by an upgrade, or expired). CANCELLED and EXPIRED are final. `move` checks
the move, sets the timestamps that go with it and records `subscription.status_changed`, which
the audit trail and the webhooks read. It never commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models import Subscription, SubscriptionStatus

S = SubscriptionStatus
MOVES: Mapping[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    S.ACTIVE: frozenset({S.PAST_DUE, S.CANCELLED, S.EXPIRED}),
    S.PAST_DUE: frozenset({S.ACTIVE, S.EXPIRED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}
# The statuses whose slots count towards the workspace's allocation.
HOLDING_SLOTS = frozenset({S.ACTIVE, S.PAST_DUE})


class SubscriptionStatusConflict(Conflict):
    code = "subscription_status_conflict"


def check(previous: SubscriptionStatus, status: SubscriptionStatus) -> None:
    if status not in MOVES[previous]:
        raise SubscriptionStatusConflict(
            f"A {previous.value} subscription cannot become {status.value}."
        )


def stamps(status: SubscriptionStatus, *, now: datetime, reason: str | None) -> dict[str, Any]:
    """The columns a change to `status` sets besides the status itself."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == S.PAST_DUE:
        values.update(past_due_since=now, payment_failure_message=reason)
    elif status == S.ACTIVE:
        values.update(past_due_since=None, payment_failure_message=None, renewal_attempts=0)
    elif status == S.CANCELLED:
        values.update(cancelled_at=now, renews_at=None)
    elif status == S.EXPIRED:
        values.update(expired_at=now, renews_at=None)
        if reason is not None:
            values.update(payment_failure_message=reason)
    return values


def move(
    session: Session,
    subscription: Subscription,
    status: SubscriptionStatus,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
    **data: Any,
) -> None:
    previous = subscription.status
    check(previous, status)
    for column, value in stamps(status, now=now or clock.now(), reason=reason).items():
        setattr(subscription, column, value)
    session.flush()
    events.record(
        session,
        workspace_id=subscription.workspace_id,
        type=EventType.SUBSCRIPTION_STATUS_CHANGED,
        subject_type="subscription",
        subject_id=subscription.id,
        actor=actor,
        subscription=subscription.public_id,
        previous=previous.value,
        status=status.value,
        reason=reason,
        **data,
    )
