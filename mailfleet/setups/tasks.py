"""The quick-setup job and its sweep. The job moves one setup one step on, in one transaction:
every step only reads what other jobs left (payments, registrations, provisioning) and records
intents, so it holds no network call; a lost job is found again by the sweep."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.exceptions import MailfleetError
from mailfleet.jobs import timers
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.models import PaymentStatus
from mailfleet.models.setup import QuickSetup, QuickSetupStatus
from mailfleet.setups import placement, service, transitions

log = logging.getLogger(__name__)
ADVANCE = "setups.advance"
ACTOR = "system:setups"
CHUNK = 200
LEASE = timedelta(minutes=5)
S = QuickSetupStatus
PAYMENT_ENDED = frozenset({PaymentStatus.FAILED, PaymentStatus.EXPIRED})
PAYMENT_WAIT = timedelta(days=2)


@job(ADVANCE)
def advance(runtime: Runtime, setup_id: str) -> None:
    settings = runtime.settings
    with runtime.database.transaction() as session:
        setup = session.get(QuickSetup, uuid.UUID(setup_id), with_for_update=True)
        if setup is None or setup.status in transitions.ENDS:
            return
        if setup.status == S.AWAITING_PAYMENT:
            _after_payment(session, settings, setup)
        elif setup.status == S.WAITING_FOR_DOMAINS:
            placement.place(session, settings, setup, actor=ACTOR)
        else:
            placement.export(session, settings, setup, actor=ACTOR)
        status = setup.status
    log.info("quick setup %s: %s", setup_id, status.value)


def _after_payment(session: Session, settings: Settings, setup: QuickSetup) -> None:
    paid = service.payment_state(session, setup)
    if paid is None or paid in PAYMENT_ENDED:
        reason = f"The payment {paid.value.lower() if paid else 'is gone'}; nothing was bought."
        transitions.move(session, setup, S.FAILED, actor=ACTOR, reason=reason)
        return
    if paid != PaymentStatus.SUCCEEDED or not service.wallet_holds(session, setup):
        if clock.now() - setup.created_at > PAYMENT_WAIT:
            # A Checkout expires within a day; past two, its outcome will not come.
            reason = "The payment was not completed within two days; nothing was bought."
            transitions.move(session, setup, S.FAILED, actor=ACTOR, reason=reason)
            return
        transitions.wait(setup, service.POLL)
        return
    try:
        with session.begin_nested():
            service.pay(session, settings, setup, actor=ACTOR)
    except MailfleetError as exc:
        # A name taken meanwhile, a subscription gone: the money stays in the wallet.
        reason = f"{exc.detail} The payment stays in the wallet."
        transitions.move(session, setup, S.FAILED, actor=ACTOR, reason=reason)


@sweeper
def sweep_setups(runtime: Runtime) -> int:
    return timers.hand_out(runtime, _claim, ADVANCE, CHUNK)


def _claim(session: Session, limit: int) -> list[uuid.UUID]:
    return timers.claim_due(session, QuickSetup, limit=limit, lease=LEASE)


def advance_soon(session: Session, setup_id: uuid.UUID) -> None:
    """Enqueue the next step right after the caller's commit (the sweep is the safety net)."""
    enqueue_after_commit(session, ADVANCE, str(setup_id))
