"""DNS jobs: publish a domain's records, delete a removed domain's zone.

Each job takes domain ids, owns its transactions, and keeps network calls (the provider)
outside any transaction: the change is committed first, then sent (`delivery.deliver`).
Running a job twice is harmless: the providers' calls are idempotent. The jobs that move a
domain through its lifecycle (zone creation, delegation, health, the sweep) are in
`domains.tasks`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.db import enqueue_after_commit
from mailfleet.dns import delivery, service
from mailfleet.dns.providers.base import DnsProviderError, Zone
from mailfleet.dns.schedule import health_due
from mailfleet.jobs import timers
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Domain, DomainStatus

log = logging.getLogger(__name__)

# Domains per job: large enough for set-based SQL, small enough that a lost job costs little.
CHUNK = 500
PUBLISH = "dns.publish_records"
DELETE_ZONE = "dns.delete_zone"
# How long a resend or zone deletion has before the sweep hands it out again.
RESEND_LEASE = timedelta(minutes=5)
ZONE_DELETION_LEASE = RESEND_LEASE


def ids_of(values: Sequence[str | uuid.UUID]) -> list[uuid.UUID]:
    return [value if isinstance(value, uuid.UUID) else uuid.UUID(value) for value in values]


def chunks(ids: Sequence[uuid.UUID], size: int = CHUNK) -> list[list[str]]:
    return [[str(i) for i in ids[start : start + size]] for start in range(0, len(ids), size)]


def zone_of(domain: Domain) -> Zone:
    return Zone(domain.zone_id or domain.name, (domain.nameserver_1, domain.nameserver_2))


def after_type_known(session: Session, domain_id: uuid.UUID) -> None:
    """The mailbox type was just fixed: publish its records once that commits."""
    enqueue_after_commit(session, PUBLISH, [str(domain_id)])


def after_types_known(session: Session, domain_ids: Sequence[uuid.UUID]) -> None:
    """`after_type_known` for many domains (a batch of orders): one job per CHUNK of them."""
    for chunk in chunks(list(domain_ids)):
        enqueue_after_commit(session, PUBLISH, chunk)


def after_remove(session: Session, domain: Domain) -> None:
    """The zone of a domain just REMOVED is deleted once that commits. Until the provider has
    deleted it, the domain's `next_check_at` is set: the sweep hands out a deletion whose job
    was lost, and the installation the zone was made at cannot be unbound."""
    domain.next_check_at = clock.now() + ZONE_DELETION_LEASE
    enqueue_after_commit(session, DELETE_ZONE, [str(domain.id)])


@job(PUBLISH)
def publish_records(runtime: Runtime, domain_ids: Sequence[str]) -> None:
    """Publish the template records of each domain's mailbox type (idempotent).

    One transaction per domain: a provider refusal for one leaves the others published.
    """
    secrets = SecretBox.from_settings(runtime.settings)
    for domain_id in ids_of(domain_ids):
        try:
            _publish_one(runtime, secrets, domain_id)
        except Exception:
            # The health check finds the records missing and the domain drifting; say why here.
            log.exception("publishing the records of domain %s failed", domain_id)


def _publish_one(runtime: Runtime, secrets: SecretBox, domain_id: uuid.UUID) -> None:
    settings = runtime.settings
    with runtime.database.transaction() as session:
        domain = session.scalars(
            select(Domain).where(Domain.id == domain_id).with_for_update()
        ).first()
        if domain is None or domain.zone_id is None or domain.status == DomainStatus.REMOVED:
            return
        serial = domain.dns_serial
        change = service.republish(session, settings, secrets, domain)
        if domain.status == DomainStatus.ACTIVE:
            domain.next_check_at = health_due(settings)
        name, kind, new_serial = domain.name, domain.mailbox_type, domain.dns_serial
    # Sent after the commit, with the lock released: a slow provider holds up no other write.
    # A refusal leaves the records stored (the health check reports the drift); a crash before
    # the answer leaves the resend that `deliver` schedules first.
    if change is not None:
        delivery.deliver(runtime, change, put_back=False)
    log.info(
        "records of %s published (%s): %s",
        name,
        kind.value if kind else "no mailbox type yet",
        f"zone changed, serial {new_serial}" if new_serial != serial else "already up to date",
    )


@job(DELETE_ZONE)
def delete_zone(runtime: Runtime, domain_ids: Sequence[str] | str) -> None:
    """Drop removed domains' zones at their providers, each in the account it was created at
    (a zone already gone is fine), then take the domains off the sweep. A passing failure is
    left to the sweep; a refusal for good is logged and not tried again."""
    settings, database = runtime.settings, runtime.database
    for domain_id in ids_of([domain_ids] if isinstance(domain_ids, str) else domain_ids):
        with database.transaction(write=False) as session:
            domain = session.get(Domain, domain_id)
            if domain is None or domain.status != DomainStatus.REMOVED or domain.zone_id is None:
                continue
            zone = zone_of(domain)
            provider = delivery.provider_of(session, settings, domain)
            name = domain.name
        try:
            provider.delete_zone(zone, name)
        except DnsProviderError as exc:
            log.warning("deleting the zone of %s failed: %s", name, exc)
            if exc.retryable:
                continue
        with database.transaction() as session:
            session.execute(
                update(Domain)
                .where(Domain.id == domain_id, Domain.status == DomainStatus.REMOVED)
                .values(next_check_at=None)
            )


@sweeper
def sweep_unsent_records(runtime: Runtime) -> int:
    """Hand out the resend of every domain whose committed changes the provider has not
    confirmed by their due time (their send and resend jobs lost, or refused and backing off)."""
    return timers.hand_out(runtime, _claim_unsent, delivery.RECONCILE, CHUNK)


def _claim_unsent(session: Session, limit: int) -> list[uuid.UUID]:
    return timers.claim_due(
        session, Domain, limit=limit, lease=RESEND_LEASE, timer="dns_unsent_due_at"
    )
