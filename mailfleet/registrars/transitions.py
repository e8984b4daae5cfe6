"""A domain purchase's and a domain renewal's status: the only place they change.

Purchase: PENDING -> REGISTERING (a worker claims it) -> REGISTERED, or FAILED (refunded);
REGISTERING -> PENDING when the registrar failed for a passing reason (retried later).
Renewal: PENDING -> SUCCEEDED or FAILED, once (a passing failure leaves it PENDING).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models import (
    DomainPurchase,
    DomainPurchaseStatus,
    DomainRenewal,
    DomainRenewalStatus,
)

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


R = DomainRenewalStatus
RENEWAL_MOVES: dict[DomainRenewalStatus, frozenset[DomainRenewalStatus]] = {
    R.PENDING: frozenset({R.SUCCEEDED, R.FAILED}),
    R.SUCCEEDED: frozenset(),
    R.FAILED: frozenset(),
}


def finish_renewal(
    session: Session,
    renewal: DomainRenewal,
    status: DomainRenewalStatus,
    *,
    name: str,
    actor: str,
    reason: str | None = None,
    expires_at: datetime | None = None,
) -> None:
    """Record a renewal's outcome and the event the webhooks see (renewed or failed)."""
    if status not in RENEWAL_MOVES[renewal.status]:
        raise Conflict(
            f"A {renewal.status.value} renewal cannot become {status.value}.",
            code="domain_renewal_status_conflict",
        )
    renewal.status = status
    renewal.failure_reason = reason[:1000] if reason else None
    renewal.retry_at = None
    renewal.completed_at = clock.now()
    succeeded = status == R.SUCCEEDED
    events.record(
        session,
        workspace_id=renewal.workspace_id,
        type=EventType.DOMAIN_RENEWED if succeeded else EventType.DOMAIN_RENEWAL_FAILED,
        subject_type="domain",
        subject_id=renewal.domain_id,
        actor=actor,
        name=name,
        renewal_id=str(renewal.id),
        amount_cents=renewal.amount_cents,
        expires_at=expires_at.isoformat() if expires_at else None,
        reason=reason,
    )
