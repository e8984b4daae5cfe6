"""The registration job: one purchase at a time, the registrar called with no transaction open.

Claim (PENDING -> REGISTERING with a lease, committed), call the registrar with the purchase's
id as its idempotency key, record the outcome: REGISTERED with its domain (QUEUED, source
PURCHASED, then the normal lifecycle), back to PENDING with a retry time when the failure may
pass, or FAILED and refunded. A worker that dies mid-call leaves REGISTERING past its lease;
the sweep hands it out again and the registrar replays the first answer to the same key.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.db import enqueue_after_commit
from mailfleet.domains import service as domain_service
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainPurchase, DomainPurchaseStatus, Workspace
from mailfleet.registrars import transitions
from mailfleet.registrars.protocol import (
    Contact,
    RegistrarError,
    Registration,
    TransientRegistrarError,
)
from mailfleet.registrars.purchases import REGISTER, refund
from mailfleet.registrars.registry import registrar_of

# Registers the renewal job and sweep wherever the registration job runs.
from mailfleet.registrars.renewals import RENEW as RENEW  # noqa: F401

log = logging.getLogger(__name__)
ACTOR = "system:registrar"
MAX_ATTEMPTS = 6
SWEEP_CHUNK = 100
S = DomainPurchaseStatus


def _lease(runtime: Runtime) -> timedelta:
    return timedelta(seconds=runtime.settings.job_lease_seconds)


def _contact(session: Session, workspace_id: uuid.UUID) -> Contact | None:
    """The registrant: the workspace's billing details (PUT /v1/workspaces/{id}/billing), read
    in the claim's transaction so the registrar call needs no database. None when unset."""
    details = session.scalar(select(Workspace.billing_details).where(Workspace.id == workspace_id))
    if not details:
        return None
    return Contact(
        organization=str(details.get("company_name") or ""),
        email=str(details.get("contact_email") or ""),
        address1=str(details.get("address_line1") or ""),
        address2=str(details.get("address_line2") or ""),
        city=str(details.get("city") or ""),
        postal_code=str(details.get("postal_code") or ""),
        country=str(details.get("country") or ""),
        # Not asked by the billing API today; read when a deployment stores them.
        state_province=str(details.get("state_province") or ""),
        phone=str(details.get("phone") or ""),
        first_name=str(details.get("first_name") or ""),
        last_name=str(details.get("last_name") or ""),
    )


def _claim(
    runtime: Runtime, purchase_id: uuid.UUID
) -> tuple[DomainPurchase, Contact | None] | None:
    now = clock.now()
    with runtime.database.transaction() as session:
        found = session.get(DomainPurchase, purchase_id, with_for_update=True)
        if found is None or found.status not in (S.PENDING, S.REGISTERING):
            return None
        if found.retry_at is not None and found.retry_at > now and found.attempts:
            return None  # someone holds it, or its retry time has not come
        transitions.move(session, found, S.REGISTERING, actor=ACTOR)
        found.attempts += 1
        found.retry_at = now + _lease(runtime)
        session.flush()
        session.expunge(found)
        return found, _contact(session, found.workspace_id)


@job(REGISTER)
def register(runtime: Runtime, purchase_id: str) -> None:
    claim = _claim(runtime, uuid.UUID(purchase_id))
    if claim is None:
        return
    claimed, contact = claim
    # The account it was placed on (registrars.accounts), for every attempt.
    registrar = registrar_of(runtime.settings, claimed.registrar, claimed.registrar_account)
    try:
        done = registrar.register(
            claimed.name,
            years=claimed.years,
            cost_cents=claimed.registrar_price_cents,
            nameservers=[claimed.nameserver_1, claimed.nameserver_2],
            idempotency_key=str(claimed.id),
            contact=contact,
            attempt=claimed.attempts,
        )
    except TransientRegistrarError as exc:
        _retry_later(runtime, claimed.id, exc)
        return
    except RegistrarError as exc:
        _fail(runtime, claimed.id, exc.message)
        return
    _registered(runtime, claimed.id, done)


def _registered(runtime: Runtime, purchase_id: uuid.UUID, done: Registration) -> None:
    with runtime.database.transaction() as session:
        found = session.get(DomainPurchase, purchase_id, with_for_update=True)
        if found is None or found.status != S.REGISTERING:
            return
        found.domain_id = domain_service.add_purchased(
            session,
            runtime.settings,
            workspace_id=found.workspace_id,
            name=found.name,
            nameservers=(found.nameserver_1, found.nameserver_2),
            actor=ACTOR,
        )
        found.registrar_order_id = done.order_id[:200]
        # Registered now for `years`: the renewal sweep reads this end (renewals.py).
        domain = session.get_one(Domain, found.domain_id)
        domain.registration_expires_at = clock.now() + timedelta(days=365 * found.years)
        found.retry_at = None
        transitions.move(session, found, S.REGISTERED, actor=ACTOR)


def _retry_later(runtime: Runtime, purchase_id: uuid.UUID, error: RegistrarError) -> None:
    with runtime.database.transaction() as session:
        found = session.get(DomainPurchase, purchase_id, with_for_update=True)
        if found is None or found.status != S.REGISTERING:
            return
        if found.attempts >= MAX_ATTEMPTS:
            _failed(session, found, f"{error.message} (after {found.attempts} attempts)")
            return
        # 1, 2, 4, 8... minutes, or what the registrar asked for if longer.
        delay = max(60.0 * 2 ** (found.attempts - 1), error.retry_after or 0.0)
        found.failure_reason = error.message[:1000]
        found.retry_at = clock.now() + timedelta(seconds=delay)
        transitions.move(session, found, S.PENDING, actor=ACTOR, reason=error.message)


def _fail(runtime: Runtime, purchase_id: uuid.UUID, reason: str) -> None:
    with runtime.database.transaction() as session:
        found = session.get(DomainPurchase, purchase_id, with_for_update=True)
        if found is not None and found.status == S.REGISTERING:
            _failed(session, found, reason)


def _failed(session: Session, found: DomainPurchase, reason: str) -> None:
    found.retry_at = None
    transitions.move(session, found, S.FAILED, actor=ACTOR, reason=reason[:1000])
    refund(session, found, actor=ACTOR)


@sweeper
def sweep_purchases(runtime: Runtime) -> int:
    """Purchases due (a retry time passed, a worker's lease ran out, a lost enqueue) are handed
    out again."""
    now = clock.now()
    with runtime.database.transaction() as session:
        due = session.scalars(
            select(DomainPurchase)
            .where(
                DomainPurchase.status.in_((S.PENDING, S.REGISTERING)),
                DomainPurchase.retry_at <= now,
            )
            .limit(SWEEP_CHUNK)
            .with_for_update(skip_locked=True)
        ).all()
        for found in due:
            if found.status == S.REGISTERING:
                # Its worker is gone: let the job claim it again.
                found.attempts = max(found.attempts, 1)
            enqueue_after_commit(session, REGISTER, str(found.id))
        return len(due)
