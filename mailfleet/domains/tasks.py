"""Domain lifecycle jobs: create zones, verify delegations, check health, and the sweep.

Each job takes domain ids, owns its transactions, and keeps network calls (the provider, DNS
queries) outside any transaction: what is to be done is committed first, the call follows.
Running a job twice is harmless: every step re-reads the domain's status (`domains.lifecycle`)
and the providers' calls are idempotent. The job names keep their `dns.` prefix: queued jobs
survive an upgrade.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.dns import delivery, service
from mailfleet.dns.providers.base import DnsProviderError
from mailfleet.dns.tasks import CHUNK, DELETE_ZONE, PUBLISH, chunks, ids_of
from mailfleet.domains import lifecycle
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Domain, DomainStatus

if TYPE_CHECKING:
    from mailfleet.dns.delegation import Diagnosis

log = logging.getLogger(__name__)

CREATE = "dns.create_zones"
VERIFY = "dns.verify_delegations"
HEALTH = "dns.check_health"


def after_submit(session: Session, settings: Settings, domain_ids: Sequence[uuid.UUID]) -> None:
    """New domains get their zones as soon as the submission commits."""
    for chunk in chunks(domain_ids):
        enqueue_after_commit(session, CREATE, chunk)


@job(CREATE)
def create_zones(runtime: Runtime, domain_ids: Sequence[str]) -> None:
    """Create each zone at the provider, record it with the zone's records (one commit), then
    send the records with no transaction open: a slow provider holds no write lock.

    A zone is created at its workspace's DNS installation if it has one, else at the
    deployment's provider, and the domain records which: later calls go to the same account.
    """
    settings, database = runtime.settings, runtime.database
    secrets = SecretBox.from_settings(settings)
    with database.transaction(write=False) as session:
        work = lifecycle.zones_to_create(session, ids_of(domain_ids))
        accounts = delivery.zone_accounts(session, settings, [task.domain_id for task in work])
    created: list[uuid.UUID] = []
    for task in work:
        account = accounts[task.domain_id]
        provider = account.provider
        try:
            zone = provider.ensure_zone(task.name, task.nameservers, serial=task.serial)
            with database.transaction() as session:
                domain = lifecycle.zone_created(session, settings, task, zone, provider.name)
                if domain is None:
                    continue
                domain.dns_installation_id = account.installation_id
                service.publish_managed(session, settings, secrets, domain)
                change = service.everything(session, domain)
                status = domain.status
        except DnsProviderError as exc:
            log.info("zone of %s not created at %s: %s", task.name, provider.name, exc)
            with database.transaction() as session:
                lifecycle.zone_not_created(
                    session, settings, task.domain_id, str(exc), retryable=exc.retryable
                )
            continue
        except Exception as exc:  # a bug: the sweep tries again after the backoff
            log.exception("creating the zone of %s failed", task.name)
            with database.transaction() as session:
                lifecycle.zone_not_created(
                    session, settings, task.domain_id, str(exc), retryable=True
                )
            continue
        log.info(
            "zone of %s created at %s (nameservers %s); domain %s",
            task.name,
            provider.name,
            " ".join(zone.nameservers),
            status.value,
        )
        _send_records(runtime, task.name, change)
        # A domain an operator already marked ACTIVE has nothing to wait for.
        if status == DomainStatus.PENDING_NS:
            created.append(task.domain_id)
    for chunk in chunks(created):
        runtime.enqueue(VERIFY, (chunk,))


def _send_records(runtime: Runtime, name: str, change: delivery.Change) -> None:
    """The new zone's records, sent after the zone's commit. The zone stands either way: a
    refusal or a crash here leaves the resend that `deliver` schedules first."""
    try:
        delivery.deliver(runtime, change, put_back=False)
    except Exception:
        log.exception("sending the records of %s failed; they are sent again later", name)


def verify_now(
    runtime: Runtime, domain_ids: Sequence[uuid.UUID], *, actor: str, revive_failed: bool
) -> tuple[lifecycle.DelegationOutcome, dict[uuid.UUID, dict[str, object]]]:
    """Check delegation for these domains and apply the results; returns each diagnosis."""
    settings, database = runtime.settings, runtime.database
    statuses = [DomainStatus.PENDING_NS, DomainStatus.ACTIVE, DomainStatus.FAILED]
    with database.transaction(write=False) as session:
        work = lifecycle.delegations_to_check(session, domain_ids, statuses)
    from mailfleet.dns.delegation import DelegationChecker  # dnspython's asyncio stack, lazily

    checker = DelegationChecker(settings)
    items = [(task.name, task.nameservers, task.provider) for task in work]
    diagnoses = asyncio.run(checker.check_many(items))
    results = []
    reports: dict[uuid.UUID, dict[str, object]] = {}
    for task, diagnosis in zip(work, diagnoses, strict=True):
        report = diagnosis.to_dict()
        reports[task.domain_id] = report
        results.append((task.domain_id, diagnosis.ok, report, diagnosis.reason))
    _log_delegations(work, diagnoses)
    with database.transaction() as session:
        outcome = lifecycle.apply_delegation_results(
            session, settings, results, actor=actor, revive_failed=revive_failed
        )
        for chunk in chunks(outcome.activated):
            enqueue_after_commit(session, PUBLISH, chunk)
    return outcome, reports


def _log_delegations(
    work: Sequence[lifecycle.DelegationTask], diagnoses: Sequence[Diagnosis]
) -> None:
    # One line per domain; the guard keeps a 10,000-domain batch free of formatting work when
    # INFO is off (the delegation benchmark).
    if not log.isEnabledFor(logging.INFO):
        return
    for task, diagnosis in zip(work, diagnoses, strict=True):
        verdict = "delegated" if diagnosis.delegated else "not delegated yet"
        log.info("delegation of %s: %s: %s", task.name, verdict, diagnosis.reason)


@job(VERIFY)
def verify_delegations(runtime: Runtime, domain_ids: Sequence[str]) -> None:
    verify_now(runtime, ids_of(domain_ids), actor=lifecycle.ACTOR, revive_failed=False)


@job(HEALTH)
def check_health(runtime: Runtime, domain_ids: Sequence[str]) -> None:
    from mailfleet.dns import checks

    ids = ids_of(domain_ids)
    with runtime.database.transaction(write=False) as session:
        zoneless = set(
            session.scalars(select(Domain.id).where(Domain.id.in_(ids), Domain.zone_id.is_(None)))
        )
    if zoneless:
        # Marked ACTIVE by an operator before the zone existed, and its zone job was lost or
        # failed: create the zone now (zone creation publishes the records too).
        create_zones(runtime, [str(domain_id) for domain_id in sorted(zoneless)])
    for domain_id in ids:
        if domain_id in zoneless:
            continue
        try:
            checks.run_and_store(runtime, domain_id, actor=lifecycle.ACTOR)
        except Exception:
            log.exception("health check of domain %s failed", domain_id)


def _claim_and_enqueue(runtime: Runtime, status: DomainStatus, task: str) -> int:
    handed_out = 0
    while True:
        with runtime.database.transaction() as session:
            ids = lifecycle.claim_due(session, runtime.settings, status, limit=CHUNK)
            if ids:
                enqueue_after_commit(session, task, [str(i) for i in ids])
        handed_out += len(ids)
        if len(ids) < CHUNK:
            return handed_out


@sweeper
def sweep_domains(runtime: Runtime) -> int:
    return (
        _claim_and_enqueue(runtime, DomainStatus.QUEUED, CREATE)
        + _claim_and_enqueue(runtime, DomainStatus.PENDING_NS, VERIFY)
        + _claim_and_enqueue(runtime, DomainStatus.ACTIVE, HEALTH)
        + _claim_and_enqueue(runtime, DomainStatus.REMOVED, DELETE_ZONE)
    )
