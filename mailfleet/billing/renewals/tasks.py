"""Renewal jobs: the due-date timer and sweep, one renewal per subscription, and the
deprovisioning of mailboxes suspended by an expiry.

The sweep claims due subscriptions (`renews_at` pushed a lease ahead) and enqueues them; the
job renews each in its own transaction. A short wallet with auto-recharge on is recharged
first, with no transaction open (billing.payments.service.recharge_for), then the renewal is
tried again once; the dedupe key makes that, and any rerun, charge at most once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from mailfleet.billing.errors import PaymentRequired
from mailfleet.billing.payments.service import recharge_for
from mailfleet.billing.renewals import batch, mailboxes, service
from mailfleet.db import enqueue_after_commit
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.models import Subscription

log = logging.getLogger(__name__)

RENEW = "billing.renew"
CHUNK = 100


@job(RENEW)
def renew(runtime: Runtime, subscription_ids: Sequence[str]) -> None:
    """Renew a chunk: the plain cases set-based (batch.py), the others one by one."""
    ids = [uuid.UUID(raw) for raw in subscription_ids]
    try:
        with runtime.database.transaction() as session:
            renewed, left = batch.renew_chunk(session, runtime.settings, ids, clock.now())
    except Exception:  # the chunk is undone; one by one, a bad row stops only itself
        log.exception("renewing %d subscriptions as a chunk failed", len(ids))
        renewed, left = [], ids
    if renewed:
        log.info("renewed %d subscriptions as a chunk", len(renewed))
    for subscription_id in left:
        try:
            renew_one(runtime, subscription_id)
        except Exception:  # a bug: the lease runs out and the sweep hands it out again
            log.exception("renewing subscription %s failed", subscription_id)


def renew_one(runtime: Runtime, subscription_id: uuid.UUID) -> service.Outcome:
    """Renew; when the wallet is short, recharge it (no transaction open) and renew again,
    recording the failure only if that did not pay."""
    settings, database = runtime.settings, runtime.database
    try:
        with database.transaction() as session:
            outcome = service.renew(
                session, settings, subscription_id, clock.now(), record_failure=False
            )
    except PaymentRequired as short:
        _recharge(runtime, subscription_id, short.shortfall_cents)
        with database.transaction() as session:
            outcome = service.renew(session, settings, subscription_id, clock.now())
    log.info("renewal of subscription %s: %s", subscription_id, outcome.status)
    return outcome


def _recharge(runtime: Runtime, subscription_id: uuid.UUID, shortfall_cents: int) -> None:
    """Ask the payments package for the shortfall; it says no at once when auto-recharge is
    off, no card is saved, one is in flight or the daily cap is reached."""
    with runtime.database.transaction(write=False) as session:
        subscription = session.get(Subscription, subscription_id)
        workspace_id = subscription.workspace_id if subscription else None
    if workspace_id is None:
        return
    outcome = recharge_for(runtime, runtime.settings, workspace_id, shortfall_cents, service.ACTOR)
    log.info("recharge for renewal of %s: %s", subscription_id, outcome.status)


@sweeper
def sweep_renewals(runtime: Runtime) -> int:
    handed_out = 0
    while True:
        with runtime.database.transaction() as session:
            ids = service.claim_due(session, runtime.settings, clock.now(), limit=CHUNK)
            if ids:
                enqueue_after_commit(session, RENEW, [str(i) for i in ids])
        handed_out += len(ids)
        if len(ids) < CHUNK:
            break
    return handed_out + _deprovision_expired(runtime)


def _deprovision_expired(runtime: Runtime) -> int:
    done = 0
    while True:
        with runtime.database.transaction() as session:
            count = mailboxes.deprovision_due(
                session, clock.now(), actor=service.ACTOR, limit=CHUNK
            )
        done += count
        if count < CHUNK:
            return done
