"""The swap job and its sweep. The job moves one swap one step on, in one transaction: every
step only reads what other jobs left and records intents, so it holds no network call; a lost
job is found again by the sweep."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from mailfleet.jobs import timers
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.models import DomainSwap, DomainSwapStatus
from mailfleet.swaps import replacing, service, steps, transitions

log = logging.getLogger(__name__)
ACTOR = "system:swaps"
CHUNK = 200
LEASE = timedelta(minutes=5)


@job(service.ADVANCE)
def advance(runtime: Runtime, swap_id: str) -> None:
    settings = runtime.settings
    with runtime.database.transaction() as session:
        swap = session.get(DomainSwap, uuid.UUID(swap_id), with_for_update=True)
        if swap is None or swap.status in transitions.ENDS:
            return
        status = swap.status
        if status == DomainSwapStatus.WAITING_FOR_DOMAIN:
            steps.place(session, settings, swap, actor=ACTOR)
        elif status == DomainSwapStatus.WAITING_FOR_MAILBOXES:
            steps.finish(session, settings, swap, actor=ACTOR)
        status = swap.status
    if status == DomainSwapStatus.REPLACING_ACCOUNTS:
        # Calls the apps: after the commit above, with no transaction open.
        replacing.replace(runtime, uuid.UUID(swap_id), actor=ACTOR)
    log.info("domain swap %s: %s", swap_id, status.value)


@sweeper
def sweep_swaps(runtime: Runtime) -> int:
    return timers.hand_out(runtime, _claim, service.ADVANCE, CHUNK)


def _claim(session: Session, limit: int) -> list[uuid.UUID]:
    return timers.claim_due(session, DomainSwap, limit=limit, lease=LEASE)
