"""Blacklist monitoring's rules: which subjects are due, what a check's verdicts change, and
what the API shows. Never commits: the job or the request owns the transaction.

A check's verdicts are applied in bulk: one read of the subjects' current listings, one insert of
new listings, one update for delistings, one bulk update of the check rows and one batch of
events. A zone that gave no verdict (refused, timed out) changes nothing it said before: a
listing is never dropped because a list could not be asked.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.events.service import NewEvent, record_all
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import (
    BlacklistListing,
    DnsRecord,
    Domain,
    DomainStatus,
    ReputationCheck,
    SubjectKind,
)
from mailfleet.reputation import score
from mailfleet.reputation.checks import Verdict

log = logging.getLogger(__name__)

ACTOR = "system:blacklist_check"
HISTORY = 20


@dataclass(frozen=True)
class Subject:
    check_id: uuid.UUID
    kind: SubjectKind
    subject: str
    domain_id: uuid.UUID | None
    workspace_id: uuid.UUID | None

    @property
    def is_ip(self) -> bool:
        return self.kind == SubjectKind.IP


def interval(settings: Settings) -> timedelta:
    return timedelta(hours=settings.dnsbl_interval_hours)


def ensure_checks(session: Session, settings: Settings) -> int:
    """A check row for every ACTIVE domain and sending IP that has none yet, due now."""
    now = clock.now()
    missing = session.execute(
        select(Domain.id, Domain.name, Domain.workspace_id)
        .outerjoin(ReputationCheck, ReputationCheck.domain_id == Domain.id)
        .where(Domain.status == DomainStatus.ACTIVE, ReputationCheck.id.is_(None))
    ).all()
    rows: list[dict[str, Any]] = [
        _check_row(SubjectKind.DOMAIN, name, domain_id, workspace_id, now)
        for domain_id, name, workspace_id in missing
    ]
    known_ips = set(
        session.scalars(
            select(ReputationCheck.subject).where(ReputationCheck.kind == SubjectKind.IP)
        )
    )
    rows += [
        _check_row(SubjectKind.IP, ip, None, None, now)
        for ip in dict.fromkeys(settings.dnsbl_sending_ips)
        if ip not in known_ips
    ]
    return len(_insert_new(session, ReputationCheck, rows))


def _insert_new(session: Session, model: Any, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert `rows`, skipping those a concurrent transaction inserted first (a sweep beside a
    check now); returns the ids actually inserted, so only those record events."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    builder: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = builder(model).on_conflict_do_nothing().returning(model.id)
    return set(session.scalars(statement, rows))


def _check_row(
    kind: SubjectKind,
    subject: str,
    domain_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "created_at": now,
        "kind": kind,
        "subject": subject,
        "domain_id": domain_id,
        "workspace_id": workspace_id,
        "next_check_at": now,
        "errors": [],
    }


def claim_due(session: Session, settings: Settings, *, limit: int) -> list[uuid.UUID]:
    """Take up to `limit` due subjects (ACTIVE domains, configured IPs) for one job: their
    timer moves a lease ahead, so a lost job's subjects come back after it."""
    now = clock.now()
    live = or_(
        and_(
            ReputationCheck.domain_id.is_(None),
            ReputationCheck.subject.in_(settings.dnsbl_sending_ips or [""]),
        ),
        Domain.status == DomainStatus.ACTIVE,
    )
    ids = list(
        session.scalars(
            select(ReputationCheck.id)
            .outerjoin(Domain, Domain.id == ReputationCheck.domain_id)
            .where(ReputationCheck.next_check_at <= now, live)
            .order_by(ReputationCheck.next_check_at)
            .limit(limit)
            .with_for_update(of=ReputationCheck, skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(ReputationCheck)
            .where(ReputationCheck.id.in_(ids))
            .values(next_check_at=now + timedelta(seconds=settings.job_lease_seconds))
            .execution_options(synchronize_session=False)
        )
    return ids


def subjects(session: Session, check_ids: Sequence[uuid.UUID]) -> list[Subject]:
    rows = session.execute(
        select(
            ReputationCheck.id,
            ReputationCheck.kind,
            ReputationCheck.subject,
            ReputationCheck.domain_id,
            ReputationCheck.workspace_id,
        ).where(ReputationCheck.id.in_(check_ids))
    ).all()
    return [Subject(*row) for row in rows]


def check_for_domain(session: Session, settings: Settings, domain: Domain) -> Subject:
    """The domain's check row (made if missing), for a check asked for now."""
    if not settings.dnsbl_enabled:
        raise Conflict("Blacklist checks are turned off.", code="blacklist_checks_disabled")
    if domain.status != DomainStatus.ACTIVE:
        raise Conflict(
            "Only ACTIVE domains are checked against blacklists.", code="domain_status_conflict"
        )
    row = _check_row(SubjectKind.DOMAIN, domain.name, domain.id, domain.workspace_id, clock.now())
    _insert_new(session, ReputationCheck, [row])
    found = session.scalars(
        select(ReputationCheck).where(ReputationCheck.domain_id == domain.id)
    ).one()
    return Subject(found.id, found.kind, found.subject, found.domain_id, found.workspace_id)


def apply(
    session: Session,
    settings: Settings,
    checked: Sequence[Subject],
    verdicts: Sequence[Verdict],
    *,
    actor: str = ACTOR,
) -> list[NewEvent]:
    """Store one check's verdicts for these subjects; returns the events it recorded."""
    now = clock.now()
    by_subject: dict[str, list[Verdict]] = defaultdict(list)
    for verdict in verdicts:
        by_subject[verdict.subject].append(verdict)
    current = _current(session, [item.check_id for item in checked])
    new_rows: list[dict[str, Any]] = []
    delisted: dict[uuid.UUID, NewEvent] = {}
    changed: list[dict[str, Any]] = []
    listed: dict[uuid.UUID, NewEvent] = {}
    for item in checked:
        for verdict in by_subject.get(item.subject, []):
            listing = current.get((item.check_id, verdict.zone))
            if verdict.error is not None:
                continue
            if verdict.listed and listing is None:
                row = _listing_row(item, verdict, now)
                new_rows.append(row)
                listed[row["id"]] = _event(item, EventType.DOMAIN_BLACKLISTED, verdict, actor)
            elif verdict.listed and listing is not None:
                if (listing.return_code, listing.reason) != (verdict.return_code, verdict.reason):
                    changed.append(
                        {
                            "id": listing.id,
                            "return_code": verdict.return_code,
                            "reason": verdict.reason,
                        }
                    )
            elif listing is not None:
                delisted[listing.id] = _event(
                    item, EventType.DOMAIN_DELISTED, verdict, actor, listing
                )
    # Events only for the rows this transaction changed: a concurrent check of the same subject
    # (the sweep beside a check now) must not announce a listing twice.
    inserted = _insert_new(session, BlacklistListing, new_rows)
    events = [event for row_id, event in listed.items() if row_id in inserted]
    if changed:
        session.execute(update(BlacklistListing), changed)
    if delisted:
        done = session.scalars(
            update(BlacklistListing)
            .where(BlacklistListing.id.in_(list(delisted)), BlacklistListing.delisted_at.is_(None))
            .values(delisted_at=now)
            .returning(BlacklistListing.id)
            .execution_options(synchronize_session=False)
        )
        gone = set(done)
        events += [event for row_id, event in delisted.items() if row_id in gone]
    _mark_checked(session, settings, checked, by_subject, now)
    # Sending IPs have no workspace: their listings show in every summary and the log.
    domain_events = [event for event in events if event.workspace_id is not None]
    if domain_events:
        record_all(session, domain_events)
    for event in events:
        log.warning("%s %s on %s", event.data["subject"], event.type.value, event.data["zone"])
    return domain_events


def _current(
    session: Session, check_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], BlacklistListing]:
    rows = session.scalars(
        select(BlacklistListing).where(
            BlacklistListing.check_id.in_(check_ids), BlacklistListing.delisted_at.is_(None)
        )
    )
    return {(row.check_id, row.zone): row for row in rows}


def _listing_row(item: Subject, verdict: Verdict, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "created_at": now,
        "check_id": item.check_id,
        "kind": item.kind,
        "subject": item.subject,
        "domain_id": item.domain_id,
        "workspace_id": item.workspace_id,
        "zone": verdict.zone,
        "return_code": verdict.return_code,
        "reason": verdict.reason,
        "listed_at": now,
        "delisted_at": None,
    }


def _event(
    item: Subject,
    kind: EventType,
    verdict: Verdict,
    actor: str,
    listing: BlacklistListing | None = None,
) -> NewEvent:
    data: dict[str, Any] = {"subject": item.subject, "zone": verdict.zone}
    if item.domain_id is not None:
        data["domain"] = item.subject
    if listing is None:
        data |= {"return_code": verdict.return_code, "reason": verdict.reason}
    else:
        data |= {"return_code": listing.return_code, "listed_at": listing.listed_at.isoformat()}
    return NewEvent(item.workspace_id, kind, "domain", item.domain_id, actor, data)


def _mark_checked(
    session: Session,
    settings: Settings,
    checked: Sequence[Subject],
    by_subject: dict[str, list[Verdict]],
    now: datetime,
) -> None:
    due = now + interval(settings)
    session.execute(
        update(ReputationCheck),
        [
            {
                "id": item.check_id,
                "checked_at": now,
                "next_check_at": due,
                "errors": [
                    {"zone": verdict.zone, "error": verdict.error}
                    for verdict in by_subject.get(item.subject, [])
                    if verdict.error is not None
                ],
            }
            for item in checked
        ],
    )


# --- reading ---------------------------------------------------------------------------------


def _listing_json(row: BlacklistListing) -> dict[str, Any]:
    return {
        "zone": row.zone,
        "subject": row.subject,
        "return_code": row.return_code,
        "reason": row.reason,
        "listed_at": row.listed_at,
        "delisted_at": row.delisted_at,
    }


def _records(session: Session, domain_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    found: dict[uuid.UUID, list[Any]] = defaultdict(list)
    rows = session.execute(
        select(DnsRecord.domain_id, DnsRecord.name, DnsRecord.type, DnsRecord.content).where(
            DnsRecord.domain_id.in_(domain_ids), DnsRecord.type.in_(("TXT", "CNAME"))
        )
    )
    for domain_id, name, type_, content in rows:
        found[domain_id].append(score.RecordView(name, type_, content))
    return found


def domain_reputation(session: Session, domain: Domain) -> dict[str, Any]:
    check = session.scalar(select(ReputationCheck).where(ReputationCheck.domain_id == domain.id))
    listings = list(
        session.scalars(
            select(BlacklistListing)
            .where(BlacklistListing.domain_id == domain.id)
            .order_by(BlacklistListing.listed_at.desc(), BlacklistListing.id.desc())
            .limit(HISTORY)
        )
    )
    current = [row for row in listings if row.delisted_at is None]
    result = score.compute(
        domain.name, domain.health_report, _records(session, [domain.id])[domain.id], len(current)
    )
    return {
        "domain_id": domain.id,
        "domain": domain.name,
        "checked_at": check.checked_at if check else None,
        "next_check_at": check.next_check_at if check else None,
        "errors": check.errors if check else [],
        "score": result.as_json(),
        "listings": [_listing_json(row) for row in current],
        "history": [_listing_json(row) for row in listings if row.delisted_at is not None],
    }


@dataclass(frozen=True)
class Scored:
    domain_id: uuid.UUID
    domain: str
    score: score.Score
    listings: list[BlacklistListing]
    checked_at: datetime | None


def scored_domains(
    session: Session, workspace_id: uuid.UUID, domain_ids: Sequence[uuid.UUID] | None = None
) -> list[Scored]:
    """The health score of each ACTIVE domain of the workspace (or of those among
    `domain_ids`), by name, with its current listings: a fixed number of queries."""
    statement = (
        select(Domain.id, Domain.name, Domain.health_report, ReputationCheck.checked_at)
        .outerjoin(ReputationCheck, ReputationCheck.domain_id == Domain.id)
        .where(Domain.workspace_id == workspace_id, Domain.status == DomainStatus.ACTIVE)
        .order_by(Domain.name)
    )
    if domain_ids is not None:
        statement = statement.where(Domain.id.in_(domain_ids))
    domains = session.execute(statement).all()
    listed: dict[uuid.UUID, list[BlacklistListing]] = defaultdict(list)
    for row in session.scalars(
        select(BlacklistListing)
        .where(
            BlacklistListing.workspace_id == workspace_id, BlacklistListing.delisted_at.is_(None)
        )
        .order_by(BlacklistListing.listed_at, BlacklistListing.id)
    ):
        if row.domain_id is not None:
            listed[row.domain_id].append(row)
    records = _records(session, [row.id for row in domains])
    return [
        Scored(
            domain_id,
            name,
            score.compute(name, report, records[domain_id], len(listed[domain_id])),
            listed[domain_id],
            checked_at,
        )
        for domain_id, name, report, checked_at in domains
    ]


def workspace_summary(session: Session, workspace_id: uuid.UUID) -> dict[str, Any]:
    """Every ACTIVE domain's score, counted by band, and the domains listed now."""
    domains = scored_domains(session, workspace_id)
    bands = {"good": 0, "fair": 0, "poor": 0}
    listed_domains = []
    for item in domains:
        bands[item.score.band] += 1
        if item.listings:
            listed_domains.append(
                {
                    "domain_id": item.domain_id,
                    "domain": item.domain,
                    "score": item.score.total,
                    "listings": [_listing_json(row) for row in item.listings],
                }
            )
    last = session.scalar(
        select(func.max(ReputationCheck.checked_at)).where(
            ReputationCheck.workspace_id == workspace_id
        )
    )
    ips = session.scalars(
        select(BlacklistListing)
        .where(BlacklistListing.kind == SubjectKind.IP, BlacklistListing.delisted_at.is_(None))
        .order_by(BlacklistListing.subject, BlacklistListing.zone)
    )
    return {
        "domains": len(domains),
        "bands": bands,
        "last_checked_at": last,
        "listed_domains": sorted(listed_domains, key=lambda item: item["domain"]),
        "sending_ip_listings": [_listing_json(row) for row in ips],
    }
