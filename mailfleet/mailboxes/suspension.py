"""Suspension at the provider and reactivation: the database side of their jobs and sweeps.

A SUSPENDED mailbox (its subscription expired: billing.renewals) must stop logging in at its
provider, and an ACTIVE one back from a suspension must log in again. No column says "done at
the provider", and the schema stays as it is, so `next_check_at` carries it: it is otherwise
used only by PENDING and PROVISIONING mailboxes, and set on a SUSPENDED or ACTIVE one it means
the provider side of its last move is still to do. The automated backends set it with the move
and enqueue a job after the commit (backends.automated); the job calls the provider outside
any transaction, then clears it and records `mailbox.provider_suspended` or
`mailbox.provider_resumed`. The sweep re-enqueues the mailboxes whose lease has run out (a
lost job, a crash, a retryable refusal). The status the mailbox has when the job runs decides
the call, so a suspension and a reactivation that cross end at the latest status.

Reactivation: SUSPENDED mailboxes keep holding their slots until they are deprovisioned (the
quota counts them), so once the workspace's allocation has room again (a new subscription, a
paid renewal, add-on slots, an operator grant) the suspended mailboxes of that pool go back to
ACTIVE, oldest first, as many as it has room for. A sweep finds them, whatever path added
the slots.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.billing import slots
from mailfleet.config import Settings
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.kit import clock
from mailfleet.mailboxes import expiry, transitions
from mailfleet.mailboxes.backends import AUTOMATED, backend_for
from mailfleet.mailboxes.backends.automated import DEPROVISION, RESUME, SUSPEND
from mailfleet.mailboxes.providers.base import MailboxProviderError
from mailfleet.models import Mailbox, MailboxStatus, MailboxType

ACTOR = "system:mailboxes"
S = MailboxStatus
# The job that brings the provider to each status, and what it records once done.
JOBS = {S.SUSPENDED: SUSPEND, S.ACTIVE: RESUME}
# What the sweep hands out: the provider side of those, and the deletion of REMOVED ones.
SWEPT = {**JOBS, S.REMOVED: DEPROVISION}
DONE = {
    S.SUSPENDED: EventType.MAILBOX_PROVIDER_SUSPENDED,
    S.ACTIVE: EventType.MAILBOX_PROVIDER_RESUMED,
}
# `failure_reason` and event reasons are cut to this (the column's size).
REASON_MAX = 1000


@dataclass(frozen=True)
class Work:
    """One mailbox whose provider side is still to do, as read before the call."""

    mailbox_id: uuid.UUID
    workspace_id: uuid.UUID
    backend: str
    address: str
    status: MailboxStatus  # SUSPENDED: suspend it; ACTIVE: resume it


def tell_backends(
    session: Session, mailbox_ids: Sequence[uuid.UUID], status: MailboxStatus, *, actor: str
) -> None:
    """After a move to SUSPENDED or back to ACTIVE: each backend schedules its provider side
    (a job after commit, or an operator's request)."""
    if not mailbox_ids:
        return
    # Fresh rows: the moves were bulk UPDATEs, which leave loaded objects as they were.
    rows = session.scalars(
        select(Mailbox)
        .where(Mailbox.id.in_(mailbox_ids))
        .order_by(Mailbox.id)
        .execution_options(populate_existing=True)
    ).all()
    by_backend: dict[str, list[Mailbox]] = defaultdict(list)
    for mailbox in rows:
        by_backend[mailbox.backend].append(mailbox)
    for name, mailboxes in by_backend.items():
        backend = backend_for(name)
        if status == S.SUSPENDED:
            backend.suspend(session, mailboxes, actor=actor)
        else:
            backend.resume(session, mailboxes, actor=actor)


def pending(session: Session, mailbox_ids: Sequence[uuid.UUID]) -> list[Work]:
    """Those of `mailbox_ids` whose provider side is still to do (a repeat finds none)."""
    rows = session.execute(
        select(Mailbox.id, Mailbox.workspace_id, Mailbox.backend, Mailbox.address, Mailbox.status)
        .where(
            Mailbox.id.in_(mailbox_ids),
            Mailbox.status.in_(JOBS),
            Mailbox.backend.in_(AUTOMATED),
            Mailbox.next_check_at.is_not(None),
        )
        .order_by(Mailbox.id)
    ).all()
    return [Work(r.id, r.workspace_id, r.backend, r.address, r.status) for r in rows]


def finish(
    session: Session,
    settings: Settings,
    results: Sequence[tuple[Work, MailboxProviderError | None]],
) -> None:
    """Record what the provider answered; a mailbox that moved meanwhile is left to the job its
    new move enqueued."""
    now = clock.now()
    retry_at = now + timedelta(seconds=settings.job_lease_seconds)
    for work, error in results:
        retry = error is not None and error.retryable
        changed = session.execute(
            update(Mailbox)
            .where(Mailbox.id == work.mailbox_id, Mailbox.status == work.status)
            .values(next_check_at=retry_at if retry else None)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 0 or retry:  # type: ignore[attr-defined]
            continue
        if error is None:
            kind, data = DONE[work.status], {"backend": work.backend}
        else:
            # Permanent: retrying cannot help; an operator sees it in the audit trail.
            action = "suspend" if work.status == S.SUSPENDED else "resume"
            kind = EventType.MAILBOX_PROVIDER_UPDATE_FAILED
            data = {"backend": work.backend, "action": action, "reason": str(error)[:REASON_MAX]}
        events.record(
            session,
            workspace_id=work.workspace_id,
            type=kind,
            subject_type="mailbox",
            subject_id=work.mailbox_id,
            actor=ACTOR,
            **data,
        )


def claim_due(session: Session, settings: Settings, *, limit: int) -> dict[str, list[uuid.UUID]]:
    """Take the mailboxes whose provider side is due again (lease over), per job, for the sweep:
    suspensions, reactivations and deletions of REMOVED mailboxes. Their lease moves ahead so
    that a second sweep leaves them to the job."""
    now = clock.now()
    rows = session.execute(
        select(Mailbox.id, Mailbox.status)
        .where(
            Mailbox.status.in_(SWEPT),
            Mailbox.backend.in_(AUTOMATED),
            Mailbox.next_check_at <= now,
        )
        .order_by(Mailbox.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return {}
    session.execute(
        update(Mailbox)
        .where(Mailbox.id.in_([row.id for row in rows]))
        .values(next_check_at=now + timedelta(seconds=settings.job_lease_seconds))
        .execution_options(synchronize_session=False)
    )
    claimed: dict[str, list[uuid.UUID]] = defaultdict(list)
    for row in rows:
        claimed[SWEPT[row.status]].append(row.id)
    return dict(claimed)


def reactivate(
    session: Session,
    settings: Settings,
    workspace_id: uuid.UUID,
    mailbox_type: MailboxType,
    now: datetime,
    *,
    actor: str = ACTOR,
) -> list[uuid.UUID]:
    """SUSPENDED -> ACTIVE for the pool's oldest suspended mailboxes the allocation has room for
    again; their renewal date becomes the covering subscription's."""
    # The locks orders take before their quota check (every type of the pool, in one order):
    # a reactivation and an order cannot both take the last slot.
    slots.lock_pool(session, workspace_id, mailbox_type, now)
    found = slots.quota(session, workspace_id, mailbox_type, now)
    suspended = list(
        session.execute(
            select(Mailbox.id, Mailbox.mailbox_type, Mailbox.order_id)
            .where(
                Mailbox.workspace_id == workspace_id,
                Mailbox.mailbox_type.in_(found.pool),
                Mailbox.status == S.SUSPENDED,
            )
            .order_by(Mailbox.created_at, Mailbox.id)
            .with_for_update()
        )
    )
    # They are counted in `used` already: what stays over the allocation stays suspended.
    room = len(suspended) - max(0, found.used - found.allocated)
    back = suspended[: max(0, room)]
    if not back:
        return []
    renews = {
        kind: expiry.renewal_date(session, settings, workspace_id, kind, now)
        for kind in {row.mailbox_type for row in back}
    }
    moves = [
        transitions.Move(
            row.id,
            workspace_id,
            row.order_id,
            S.SUSPENDED,
            S.ACTIVE,
            "slots available again",
            values={"expires_at": renews[row.mailbox_type]},
        )
        for row in back
    ]
    transitions.move_rows(session, moves, actor=actor)
    ids = [row.id for row in back]
    tell_backends(session, ids, S.ACTIVE, actor=actor)
    return ids


def reactivate_due(session: Session, settings: Settings, now: datetime) -> int:
    """Reactivate, in every workspace with suspended mailboxes, those it has room for again."""
    pools = session.execute(
        select(Mailbox.workspace_id, Mailbox.mailbox_type)
        .where(Mailbox.status == S.SUSPENDED)
        .distinct()
        .order_by(Mailbox.workspace_id, Mailbox.mailbox_type)
    ).all()
    return sum(
        len(reactivate(session, settings, workspace_id, mailbox_type, now))
        for workspace_id, mailbox_type in pools
    )
