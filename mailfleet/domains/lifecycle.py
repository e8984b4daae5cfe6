"""The domain lifecycle QUEUED -> PENDING_NS -> ACTIVE (or FAILED), and every status change.

`MOVES` is the one table of allowed status changes; `move` (one domain, loaded) and `move_rows`
(set-based, many at once) are the only ways a domain's status changes, each setting the
timestamps that go with it and recording `domain.status_changed`, which the audit trail and the
webhooks read. Every function here takes a session and never commits; `domains.tasks` owns the
transactions and does the network calls (provider, DNS queries) between them, never while
holding a lock. A domain is worked on only while it is claimed: `next_check_at` pushed forward
by a lease, so two workers never take the same domain and a crashed job's domains come back to
the sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.dns.providers.base import Zone
from mailfleet.dns.schedule import health_due
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainStatus

ACTOR = "system:dns"
# The reason columns' size (models.Domain); a diagnosis naming many servers can be longer.
REASON_LENGTH = 1000

S = DomainStatus
# Allowed status changes. An operator may mark any live domain ACTIVE or FAILED by hand
# (operator.service); the automatic path only moves forward; REMOVED is final.
MOVES: Mapping[DomainStatus, frozenset[DomainStatus]] = {
    S.QUEUED: frozenset({S.PENDING_NS, S.ACTIVE, S.FAILED, S.REMOVED}),
    S.PENDING_NS: frozenset({S.ACTIVE, S.FAILED, S.REMOVED}),
    S.ACTIVE: frozenset({S.FAILED, S.REMOVED, S.EXPIRED}),
    S.FAILED: frozenset({S.ACTIVE, S.REMOVED}),
    S.REMOVED: frozenset(),
    # A purchased domain past its registration's end (registrars.renewals); renewing it at
    # the registrar by hand and marking it ACTIVE brings it back.
    S.EXPIRED: frozenset({S.ACTIVE, S.REMOVED}),
}
# What a submitted domain starts as (`queue_new`).
INITIAL = S.QUEUED


class DomainStatusConflict(Conflict):
    """A status change the lifecycle does not allow (`MOVES`)."""

    code = "domain_status_conflict"


def check(previous: DomainStatus, status: DomainStatus) -> None:
    if status not in MOVES[previous]:
        raise DomainStatusConflict(
            f"A {previous.value} domain cannot become {status.value}.",
        )


def stamps(
    status: DomainStatus, *, now: datetime, reason: str | None, activated_at: datetime | None
) -> dict[str, Any]:
    """The columns a change to `status` sets besides the status itself."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == S.FAILED:
        values.update(failure_reason=reason, next_check_at=None)
    elif status == S.ACTIVE:
        # When it first went live: marking it ACTIVE again keeps that.
        values.update(failure_reason=None, activated_at=activated_at or now)
    elif status == S.PENDING_NS:
        values.update(failure_reason=None, pending_since=now)
    elif status == S.REMOVED:
        # The failure reason of a failed domain stays readable after its removal.
        values.update(removed_at=now, next_check_at=None)
    return values


def move(
    session: Session,
    domain: Domain,
    status: DomainStatus,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> None:
    """Change a loaded (and locked) domain's status; the same status again only restamps."""
    previous = domain.status
    if previous != status:
        check(previous, status)
    now = now or clock.now()
    for column, value in stamps(
        status, now=now, reason=reason, activated_at=domain.activated_at
    ).items():
        setattr(domain, column, value)
    if previous != status:
        events.record(
            session,
            workspace_id=domain.workspace_id,
            type=EventType.DOMAIN_STATUS_CHANGED,
            subject_type="domain",
            subject_id=domain.id,
            actor=actor,
            previous=previous.value,
            status=status.value,
            reason=reason,
        )


@dataclass(frozen=True)
class Move:
    """One row of a set-based change: the domain as read under lock, and where it goes."""

    domain_id: uuid.UUID
    workspace_id: uuid.UUID
    previous: DomainStatus
    status: DomainStatus
    reason: str | None = None
    activated_at: datetime | None = None
    # Other columns the caller changes in the same statement (check bookkeeping and the like).
    values: dict[str, Any] = field(default_factory=dict)


def move_rows(session: Session, moves: Sequence[Move], *, actor: str) -> None:
    """Apply many changes in one bulk UPDATE by primary key and one insert of their events."""
    if not moves:
        return
    now = clock.now()
    for item in moves:
        check(item.previous, item.status)
    changes = [
        {
            "id": item.domain_id,
            **item.values,
            **stamps(item.status, now=now, reason=item.reason, activated_at=item.activated_at),
        }
        for item in moves
    ]
    session.execute(update(Domain), changes)
    events.record_all(
        session,
        (
            events.NewEvent(
                item.workspace_id,
                EventType.DOMAIN_STATUS_CHANGED,
                "domain",
                item.domain_id,
                actor,
                {
                    "previous": item.previous.value,
                    "status": item.status.value,
                    "reason": item.reason,
                },
            )
            for item in moves
        ),
    )


def queue_new(session: Session, settings: Settings, rows: list[dict[str, Any]]) -> None:
    """Insert submitted domains as QUEUED, claimed for the zone job enqueued at commit (the
    sweep retries after the lease). The batch's own event stands for them (domains.service)."""
    now = clock.now()
    for row in rows:
        row.update(status=INITIAL, next_check_at=lease_until(settings, now))
    # One executemany: the whole batch in a single round of set-based inserts.
    session.execute(insert(Domain), rows)


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
    move(session, domain, DomainStatus.PENDING_NS, actor=ACTOR, now=now)
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
    move(session, domain, DomainStatus.FAILED, actor=ACTOR, reason=reason, now=now)


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
                Domain.activated_at,
            )
            .where(Domain.id.in_([result[0] for result in results]), Domain.status.in_(statuses))
            .with_for_update()
        )
    }
    now = clock.now()
    deadline = timedelta(hours=settings.ns_check_deadline_hours)
    moves: list[Move] = []
    waits: list[dict[str, Any]] = []
    for domain_id, delegated, report, reason in results:
        row = current.get(domain_id)
        if row is None:
            continue
        _, workspace_id, status, pending_since, attempts, activated_at = row
        checked: dict[str, Any] = {
            "delegation_report": report,
            "last_check_reason": reason[:REASON_LENGTH],
            "last_checked_at": now,
            "updated_at": now,
        }
        if delegated:
            checked.update(check_attempts=0, next_check_at=lease_until(settings, now))
            moves.append(
                Move(domain_id, workspace_id, status, S.ACTIVE, None, activated_at, checked)
            )
            outcome.activated.append(domain_id)
        elif status == DomainStatus.PENDING_NS and (pending_since or now) + deadline <= now:
            hours = f"{settings.ns_check_deadline_hours:g}"
            failure = f"Delegation not seen within {hours} h: {reason}"[:REASON_LENGTH]
            moves.append(Move(domain_id, workspace_id, status, S.FAILED, failure, None, checked))
            outcome.failed.append(domain_id)
        else:
            if status == DomainStatus.PENDING_NS:
                checked.update(
                    check_attempts=attempts + 1,
                    next_check_at=now + backoff(settings, attempts),
                )
            waits.append({"id": domain_id, **checked})
            outcome.waiting.append(domain_id)
    if waits:
        session.execute(update(Domain), waits)
    move_rows(session, moves, actor=actor)
    return outcome


def _without_zone(session: Session, domain_id: uuid.UUID) -> Domain | None:
    """The domain, locked, if it still waits for its zone."""
    domain = session.scalars(select(Domain).where(Domain.id == domain_id).with_for_update()).first()
    if domain is None or domain.status not in ZONE_STATUSES or domain.zone_id is not None:
        return None
    return domain
