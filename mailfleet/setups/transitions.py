"""A quick setup's status: the only place it changes.

AWAITING_PAYMENT -> WAITING_FOR_DOMAINS (bought) or FAILED (the payment failed or expired, a
name was taken meanwhile); WAITING_FOR_DOMAINS -> WAITING_FOR_MAILBOXES (ordered, an export to
make) or DONE; WAITING_FOR_MAILBOXES -> DONE. Each move records `quick_setup.status_changed`;
an end stamps `completed_at` and stops the sweep's timer.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models.setup import QuickSetup, QuickSetupStatus

S = QuickSetupStatus
MOVES: dict[QuickSetupStatus, frozenset[QuickSetupStatus]] = {
    S.AWAITING_PAYMENT: frozenset({S.WAITING_FOR_DOMAINS, S.FAILED}),
    S.WAITING_FOR_DOMAINS: frozenset({S.WAITING_FOR_MAILBOXES, S.DONE, S.FAILED}),
    S.WAITING_FOR_MAILBOXES: frozenset({S.DONE, S.FAILED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
}
ENDS = frozenset({S.DONE, S.FAILED})


def record_start(session: Session, setup: QuickSetup, *, actor: str) -> None:
    _event(session, setup, None, actor)


def move(
    session: Session,
    setup: QuickSetup,
    status: QuickSetupStatus,
    *,
    actor: str,
    next_check: timedelta | None = None,
    reason: str | None = None,
) -> None:
    if status not in MOVES[setup.status]:
        raise Conflict(
            f"A {setup.status.value} quick setup cannot become {status.value}.",
            code="quick_setup_status_conflict",
        )
    before = setup.status
    now = clock.now()
    setup.status = status
    setup.updated_at = now
    if status in ENDS:
        setup.completed_at = now
        setup.next_check_at = None
        setup.failure_reason = reason
    else:
        setup.next_check_at = now + (next_check or timedelta(0))
    _event(session, setup, before, actor)


def wait(setup: QuickSetup, delay: timedelta) -> None:
    """Look again after `delay` (the sweep's timer), status unchanged."""
    setup.next_check_at = clock.now() + delay


def _event(
    session: Session, setup: QuickSetup, before: QuickSetupStatus | None, actor: str
) -> None:
    events.record(
        session,
        workspace_id=setup.workspace_id,
        type=EventType.QUICK_SETUP_STATUS_CHANGED,
        subject_type="quick_setup",
        subject_id=setup.id,
        actor=actor,
        previous=before.value if before else None,
        status=setup.status.value,
        reason=setup.failure_reason,
        skipped=setup.skipped or {},
    )
