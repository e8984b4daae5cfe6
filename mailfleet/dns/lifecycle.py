"""The domain lifecycle QUEUED -> PENDING_NS -> ACTIVE (or FAILED), one step per job.

Every function here takes a session and never commits; `dns.tasks` owns the transactions and
does the network calls (provider, DNS queries) between them, never while holding a lock.
A domain is worked on only while it is claimed: `next_check_at` pushed forward by a lease, so
two workers never take the same domain and a crashed job's domains come back to the sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.dns.providers.base import Zone
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Domain, DomainStatus, Event

ACTOR = "system:dns"
# The reason columns' size (models.Domain); a diagnosis naming many servers can be longer.
REASON_LENGTH = 1000


def lease_until(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(seconds=settings.job_lease_seconds)


def claim_due(
    session: Session, settings: Settings, status: DomainStatus, *, limit: int
) -> list[uuid.UUID]:
    """Take up to `limit` domains in `status` whose next check is due, for one job."""
    now = clock.now()
    ids = list(
        session.scalars(
            select(Domain.id)
            .where(Domain.status == status, Domain.next_check_at <= now)
            .order_by(Domain.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(Domain)
            .where(Domain.id.in_(ids))
            .values(next_check_at=lease_until(settings, now))
            .execution_options(synchronize_session=False)
        )
    return ids


def health_due(settings: Settings) -> datetime:
    return clock.now() + timedelta(seconds=settings.dns_health_interval)


def zone_of(domain: Domain) -> Zone:
    return Zone(domain.zone_id or domain.name, (domain.nameserver_1, domain.nameserver_2))


def backoff(settings: Settings, attempts: int) -> timedelta:
    steps = settings.ns_check_backoff or [3600]
    return timedelta(seconds=steps[min(attempts, len(steps) - 1)])


@dataclass(frozen=True)
class ZoneTask:
    domain_id: uuid.UUID
    name: str
    nameservers: tuple[str, str]
    serial: int


# Statuses in which a domain without a zone gets one: QUEUED (the normal path) and ACTIVE, for
# a domain an operator marked ACTIVE before its zone existed (operator.service).
ZONE_STATUSES = (DomainStatus.QUEUED, DomainStatus.ACTIVE)


def zones_to_create(session: Session, ids: Sequence[uuid.UUID]) -> list[ZoneTask]:
    rows = session.execute(
        select(Domain.id, Domain.name, Domain.nameserver_1, Domain.nameserver_2, Domain.dns_serial)
        .where(Domain.id.in_(ids), Domain.status.in_(ZONE_STATUSES), Domain.zone_id.is_(None))
        .order_by(Domain.id)
    )
    return [ZoneTask(row[0], row[1], (row[2], row[3]), row[4]) for row in rows]


def zone_created(
    session: Session, settings: Settings, task: ZoneTask, zone: Zone, provider: str
) -> Domain | None:
    """QUEUED -> PENDING_NS once the provider has the zone; None if the domain moved on.

    A domain marked ACTIVE by hand stays ACTIVE and is due for its health check.
    """
    domain = _without_zone(session, task.domain_id)
    if domain is None:
        return None
    now = clock.now()
    domain.dns_provider = provider
    domain.zone_id = zone.zone_id
    if len(zone.nameservers) >= 2 and tuple(zone.nameservers[:2]) != task.nameservers:
        # Providers like Cloudflare assign their own pair; that is what the registrar needs.
        domain.nameserver_1, domain.nameserver_2 = zone.nameservers[0], zone.nameservers[1]
    domain.check_attempts = 0
    domain.last_check_reason = None
    if domain.status == DomainStatus.ACTIVE:
        domain.next_check_at = health_due(settings)
        return domain
    _transition(session, domain, DomainStatus.PENDING_NS, reason=None, now=now)
    domain.pending_since = now
    # The follow-up verify job is enqueued right after commit; this lease covers it.
    domain.next_check_at = lease_until(settings, now)
    return domain


def zone_not_created(
    session: Session, settings: Settings, domain_id: uuid.UUID, error: str, *, retryable: bool
) -> None:
    domain = _without_zone(session, domain_id)
    if domain is None:
        return
    now = clock.now()
    domain.last_checked_at = now
    if retryable or domain.status == DomainStatus.ACTIVE:
        # An ACTIVE domain is not failed by a refusal: the operator said it is live; the reason
        # shows, and the sweep tries again (a refusal may be fixed at the provider).
        verb = "unavailable" if retryable else "refused"
        domain.last_check_reason = f"DNS provider {verb}, retrying: {error}"
        domain.next_check_at = now + backoff(settings, domain.check_attempts)
        domain.check_attempts += 1
        return
    reason = f"DNS provider refused: {error}"
    domain.last_check_reason = reason
    _transition(session, domain, DomainStatus.FAILED, reason=reason, now=now)


@dataclass(frozen=True)
class DelegationTask:
    domain_id: uuid.UUID
    name: str
    nameservers: tuple[str, str]
    # Where the zone lives: a builtin zone is asked at Mailfleet's own server (dns.addresses).
    provider: str | None


def delegations_to_check(
    session: Session, ids: Sequence[uuid.UUID], statuses: Sequence[DomainStatus]
) -> list[DelegationTask]:
    rows = session.execute(
        select(
            Domain.id, Domain.name, Domain.nameserver_1, Domain.nameserver_2, Domain.dns_provider
        )
        .where(Domain.id.in_(ids), Domain.status.in_(statuses), Domain.zone_id.is_not(None))
        .order_by(Domain.id)
    )
    return [DelegationTask(row[0], row[1], (row[2], row[3]), row[4]) for row in rows]


@dataclass
class DelegationOutcome:
    activated: list[uuid.UUID]
    failed: list[uuid.UUID]
    waiting: list[uuid.UUID]


def apply_delegation_results(
    session: Session,
    settings: Settings,
    results: Sequence[tuple[uuid.UUID, bool, dict[str, Any], str]],
    *,
    actor: str = ACTOR,
    revive_failed: bool = False,
) -> DelegationOutcome:
    """Record (domain id, delegated, diagnosis, reason) results in a few set-based statements.

    Delegated domains become ACTIVE; the others wait for their next check with a backoff, or
    FAIL with the parent's answer once the deadline has passed.
    """
    outcome = DelegationOutcome([], [], [])
    if not results:
        return outcome
    statuses = [DomainStatus.PENDING_NS] + ([DomainStatus.FAILED] if revive_failed else [])
    current = {
        row[0]: row
        for row in session.execute(
            select(
                Domain.id,
                Domain.workspace_id,
                Domain.status,
                Domain.pending_since,
                Domain.check_attempts,
            )
            .where(Domain.id.in_([result[0] for result in results]), Domain.status.in_(statuses))
            .with_for_update()
        )
    }
    now = clock.now()
    deadline = timedelta(hours=settings.ns_check_deadline_hours)
    changes: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for domain_id, delegated, report, reason in results:
        row = current.get(domain_id)
        if row is None:
            continue
        _, workspace_id, status, pending_since, attempts = row
        change: dict[str, Any] = {
            "id": domain_id,
            "delegation_report": report,
            "last_check_reason": reason[:REASON_LENGTH],
            "last_checked_at": now,
            "updated_at": now,
        }
        if delegated:
            change.update(
                status=DomainStatus.ACTIVE,
                activated_at=now,
                failure_reason=None,
                check_attempts=0,
                next_check_at=lease_until(settings, now),
            )
            outcome.activated.append(domain_id)
            events.append(_event(workspace_id, domain_id, status, DomainStatus.ACTIVE, None, actor))
        elif status == DomainStatus.PENDING_NS and (pending_since or now) + deadline <= now:
            hours = f"{settings.ns_check_deadline_hours:g}"
            failure = f"Delegation not seen within {hours} h: {reason}"[:REASON_LENGTH]
            change.update(status=DomainStatus.FAILED, failure_reason=failure, next_check_at=None)
            outcome.failed.append(domain_id)
            events.append(
                _event(workspace_id, domain_id, status, DomainStatus.FAILED, failure, actor)
            )
        else:
            if status == DomainStatus.PENDING_NS:
                change.update(
                    check_attempts=attempts + 1,
                    next_check_at=now + backoff(settings, attempts),
                )
            outcome.waiting.append(domain_id)
        changes.append(change)
    if changes:
        session.execute(update(Domain), changes)
    if events:
        session.execute(insert(Event), events)
    return outcome


def _event(
    workspace_id: uuid.UUID,
    domain_id: uuid.UUID,
    previous: DomainStatus,
    status: DomainStatus,
    reason: str | None,
    actor: str,
) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "created_at": clock.now(),
        "workspace_id": workspace_id,
        "type": "domain.status_changed",
        "subject_type": "domain",
        "subject_id": domain_id,
        "actor": actor,
        "data": {"previous": previous.value, "status": status.value, "reason": reason},
    }


def _without_zone(session: Session, domain_id: uuid.UUID) -> Domain | None:
    """The domain, locked, if it still waits for its zone."""
    domain = session.scalars(select(Domain).where(Domain.id == domain_id).with_for_update()).first()
    if domain is None or domain.status not in ZONE_STATUSES or domain.zone_id is not None:
        return None
    return domain


def _transition(
    session: Session, domain: Domain, status: DomainStatus, *, reason: str | None, now: datetime
) -> None:
    previous = domain.status
    domain.status = status
    domain.failure_reason = reason
    domain.updated_at = now
    if status == DomainStatus.FAILED:
        domain.next_check_at = None
    session.execute(
        insert(Event),
        [_event(domain.workspace_id, domain.id, previous, status, reason, ACTOR)],
    )
