"""A domain swap's status: the only place it changes.

WAITING_FOR_DOMAIN -> WAITING_FOR_MAILBOXES (ordered on the new domain) or FAILED (the new
domain failed, the order was refused); WAITING_FOR_MAILBOXES -> REPLACING_ACCOUNTS (the new
ones are being exported where the old ones were), DONE (each mailbox swapped or failed on its
own, nothing to export) or FAILED (none could be made); REPLACING_ACCOUNTS -> DONE. Each move
records `domain_swap.status_changed`; an end stamps `completed_at` and stops the sweep's timer.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models import DomainSwap, DomainSwapStatus

S = DomainSwapStatus
MOVES: dict[DomainSwapStatus, frozenset[DomainSwapStatus]] = {
    S.WAITING_FOR_DOMAIN: frozenset({S.WAITING_FOR_MAILBOXES, S.FAILED}),
    S.WAITING_FOR_MAILBOXES: frozenset({S.REPLACING_ACCOUNTS, S.DONE, S.FAILED}),
    S.REPLACING_ACCOUNTS: frozenset({S.DONE}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
}
ENDS = frozenset({S.DONE, S.FAILED})


def record_start(session: Session, swap: DomainSwap, *, actor: str) -> None:
    _event(session, swap, None, actor)


def move(
    session: Session,
    swap: DomainSwap,
    status: DomainSwapStatus,
    *,
    actor: str,
    next_check: timedelta | None = None,
    reason: str | None = None,
) -> None:
    if status not in MOVES[swap.status]:
        raise Conflict(
            f"A {swap.status.value} swap cannot become {status.value}.",
            code="domain_swap_status_conflict",
        )
    before = swap.status
    now = clock.now()
    swap.status = status
    swap.updated_at = now
    if status in ENDS:
        swap.completed_at = now
        swap.next_check_at = None
        swap.failure_reason = reason[:1000] if reason else None
    else:
        swap.next_check_at = now + (next_check or timedelta(0))
    _event(session, swap, before, actor)


def wait(swap: DomainSwap, delay: timedelta) -> None:
    """Look again after `delay` (the sweep's timer), status unchanged."""
    swap.next_check_at = clock.now() + delay


def _event(session: Session, swap: DomainSwap, before: DomainSwapStatus | None, actor: str) -> None:
    counts: dict[str, int] = {}
    for item in swap.items:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    events.record(
        session,
        workspace_id=swap.workspace_id,
        type=EventType.DOMAIN_SWAP_STATUS_CHANGED,
        subject_type="domain_swap",
        subject_id=swap.id,
        actor=actor,
        previous=before.value if before else None,
        status=swap.status.value,
        from_domain_id=str(swap.from_domain_id),
        to_domain_id=str(swap.to_domain_id),
        mailboxes=counts,
        reason=swap.failure_reason,
    )
