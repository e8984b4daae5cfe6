"""A domain purchase's status: the only place it changes.

PENDING -> REGISTERING (a worker claims it) -> REGISTERED, or FAILED (refunded); REGISTERING
-> PENDING when the registrar failed for a passing reason (retried later).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models import DomainPurchase, DomainPurchaseStatus

S = DomainPurchaseStatus
MOVES: dict[DomainPurchaseStatus, frozenset[DomainPurchaseStatus]] = {
    S.PENDING: frozenset({S.REGISTERING, S.FAILED}),
    S.REGISTERING: frozenset({S.REGISTERED, S.PENDING, S.FAILED, S.REGISTERING}),
    S.REGISTERED: frozenset(),
    S.FAILED: frozenset(),
}


def move(
    session: Session,
    purchase: DomainPurchase,
    status: DomainPurchaseStatus,
    *,
    actor: str,
    reason: str | None = None,
) -> None:
    old = purchase.status
    if status not in MOVES[old]:
        raise Conflict(
            f"A {old.value} purchase cannot become {status.value}.",
            code="domain_purchase_status_conflict",
        )
    purchase.status = status
    if status == S.REGISTERED:
        purchase.registered_at = clock.now()
    if status == S.FAILED:
        purchase.failure_reason = reason
    if old == status:
        return
    events.record(
        session,
        workspace_id=purchase.workspace_id,
        type=EventType.DOMAIN_PURCHASE_STATUS_CHANGED,
        subject_type="domain_purchase",
        subject_id=purchase.id,
        actor=actor,
        name=purchase.name,
        old=old.value,
        new=status.value,
        reason=reason,
    )
