"""Recharge jobs: charge the saved card when a debit left the balance under the threshold,
and a sweep that re-runs recharges left OPEN by a crash between recording and charging.

Both are safe to run twice: the payment row is the lease (one OPEN or PROCESSING recharge per
wallet, by a unique index), the provider answers a repeated idempotency key with its first
outcome, and the credit is deduped per PaymentIntent.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from mailfleet.billing.charges import RECHARGE_TASK
from mailfleet.billing.payments import service
from mailfleet.db import enqueue_after_commit
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.models import Payment, PaymentPurpose, PaymentStatus

log = logging.getLogger(__name__)

RECHARGE = RECHARGE_TASK  # enqueued by billing.charges after a debit under the threshold
RERUN = "billing.recharge_payment"
# An OPEN recharge untouched this long was abandoned mid-way (the charge call never ran or
# its outcome was never recorded): the sweep hands it out again.
LEASE = timedelta(minutes=10)
SWEEP_BATCH = 100


@job(RECHARGE)
def recharge(runtime: Runtime, workspace_id: str) -> None:
    """Top the wallet up off-session if it is still under its threshold."""
    with runtime.database.transaction() as session:
        started = service.start_recharge(
            session,
            runtime.settings,
            uuid.UUID(workspace_id),
            0,
            service.ACTOR,
            only_under_threshold=True,
        )
    if isinstance(started, service.RechargeOutcome):
        log.info("no recharge for workspace %s: %s", workspace_id, started.status)
        return
    outcome = service.run_recharge(runtime.database, runtime.settings, started)
    log.info("recharge %s of workspace %s: %s", started, workspace_id, outcome.status)


@job(RERUN)
def recharge_payment(runtime: Runtime, payment_id: str) -> None:
    outcome = service.run_recharge(runtime.database, runtime.settings, uuid.UUID(payment_id))
    log.info("recharge %s rerun: %s", payment_id, outcome.status)


@sweeper
def sweep_open_recharges(runtime: Runtime) -> int:
    """Hand out OPEN recharges older than the lease, renewing the lease as it claims them."""
    now = clock.now()
    with runtime.database.transaction() as session:
        due = list(
            session.scalars(
                select(Payment.id)
                .where(
                    Payment.purpose == PaymentPurpose.RECHARGE,
                    Payment.status == PaymentStatus.OPEN,
                    Payment.updated_at < now - LEASE,
                )
                .limit(SWEEP_BATCH)
            )
        )
        if not due:
            return 0
        claimed = session.execute(
            update(Payment)
            .where(Payment.id.in_(due), Payment.updated_at < now - LEASE)
            .values(updated_at=now)
            .returning(Payment.id)
        ).scalars()
        ids = list(claimed)
        for payment_id in ids:
            enqueue_after_commit(session, RERUN, str(payment_id))
    return len(ids)
