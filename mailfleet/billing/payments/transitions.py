"""Every status change of a payment, through one table.

OPEN (recorded, the provider not asked yet or not answered) -> PROCESSING (asked, the money
not confirmed: an unpaid Checkout waiting for an async method, a PaymentIntent processing),
REQUIRES_ACTION (the card wants the customer on-session), SUCCEEDED, FAILED or EXPIRED.
SUCCEEDED, FAILED and EXPIRED are final. A move to SUCCEEDED records `payment.succeeded`, to
FAILED or EXPIRED `payment.failed`; the webhooks and the audit trail read them. Never commits.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models import Payment, PaymentStatus

P = PaymentStatus
MOVES: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    P.OPEN: frozenset({P.PROCESSING, P.REQUIRES_ACTION, P.SUCCEEDED, P.FAILED, P.EXPIRED}),
    P.PROCESSING: frozenset({P.REQUIRES_ACTION, P.SUCCEEDED, P.FAILED, P.EXPIRED}),
    P.REQUIRES_ACTION: frozenset({P.PROCESSING, P.SUCCEEDED, P.FAILED, P.EXPIRED}),
    P.SUCCEEDED: frozenset(),
    P.FAILED: frozenset(),
    P.EXPIRED: frozenset(),
}
FINAL = frozenset({P.SUCCEEDED, P.FAILED, P.EXPIRED})


class PaymentStatusConflict(Conflict):
    code = "payment_status_conflict"


def can_move(previous: PaymentStatus, status: PaymentStatus) -> bool:
    return status in MOVES[previous]


def move(
    session: Session,
    payment: Payment,
    status: PaymentStatus,
    *,
    actor: str,
    failure_code: str | None = None,
    failure_message: str | None = None,
    url: str | None = None,
) -> None:
    """Move `payment` to `status` (409 for a move the table does not allow)."""
    previous = payment.status
    if not can_move(previous, status):
        raise PaymentStatusConflict(f"A {previous.value} payment cannot become {status.value}.")
    payment.status = status
    if failure_code is not None or failure_message is not None:
        payment.failure_code = failure_code
        payment.failure_message = (failure_message or "")[:1000] or None
    if url is not None:
        payment.url = url
    if status in FINAL:
        payment.completed_at = clock.now()
    session.flush()
    if status == P.SUCCEEDED:
        kind = EventType.PAYMENT_SUCCEEDED
    elif status in (P.FAILED, P.EXPIRED):
        kind = EventType.PAYMENT_FAILED
    else:
        return
    events.record(
        session,
        workspace_id=payment.workspace_id,
        type=kind,
        subject_type="payment",
        subject_id=payment.id,
        actor=actor,
        payment_id=str(payment.id),
        purpose=payment.purpose.value,
        previous=previous.value,
        status=status.value,
        amount_cents=payment.amount_cents,
        currency=payment.currency,
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
    )
