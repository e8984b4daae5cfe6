"""Domain submission, listing and removal. Business rules live here; the caller commits."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import get_scoped, scoped, scoped_columns
from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.dns import delivery as dns_delivery
from mailfleet.dns import service as dns_service
from mailfleet.dns import tasks as dns_tasks
from mailfleet.domains import lifecycle
from mailfleet.domains import tasks as domain_tasks
from mailfleet.domains.listing import DomainQuery, sorted_page
from mailfleet.domains.names import (
    DomainName,
    NameError_,
    nameserver_pair,
    normalise,
    normalise_username,
)
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict, FieldError, Unprocessable
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.ids import uuid7
from mailfleet.kit.pagination import contains_pattern, paginate, split_page
from mailfleet.models import (
    Domain,
    DomainBatch,
    DomainSource,
    DomainStatus,
    Mailbox,
    MailboxType,
)
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES

# Keeps IN (...) lists under every backend's bound-parameter limit.
LOOKUP_CHUNK = 900
# The job that applies catch-all and forwards at the domain's mailbox provider. It lives with
# the mailboxes (a layer above: mailboxes.tasks); named here so domains enqueue it by name.
APPLY_FORWARDING = "mailboxes.apply_forwarding"


@dataclass
class Rejection:
    index: int
    name: str | None
    code: str
    detail: str


@dataclass
class Submission:
    batch: DomainBatch
    accepted: list[dict[str, object]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def submit(
    session: Session,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    names: Sequence[object],
    mailbox_type: MailboxType | None,
    tags: list[str],
    actor: str,
) -> Submission:
    if len(names) > settings.max_domains_per_batch:
        raise Unprocessable(
            f"A batch holds at most {settings.max_domains_per_batch} domains; got {len(names)}.",
            code="too_many_domains",
            field="domains",
        )
    candidates, rejected = _normalise_batch(names, settings.local_tlds)
    taken = _live_names(session, [name.ascii for _, name in candidates])
    accepted_names: list[DomainName] = []
    for index, name in candidates:
        holder = taken.get(name.ascii)
        if holder is None:
            accepted_names.append(name)
        elif holder == workspace_id:
            rejected.append(
                Rejection(
                    index,
                    name.ascii,
                    "already_in_workspace",
                    "This workspace already has this domain.",
                )
            )
        else:
            rejected.append(
                Rejection(
                    index,
                    name.ascii,
                    "domain_taken",
                    "Another workspace already holds this domain.",
                )
            )
    if not accepted_names:
        raise Unprocessable(
            "No domain in the batch could be accepted.",
            code="no_domain_accepted",
            field="domains",
            errors=[
                FieldError(f"domains[{r.index}]", r.code, r.detail)
                for r in sorted(rejected, key=lambda r: r.index)
            ],
        )
    batch = DomainBatch(
        workspace_id=workspace_id,
        submitted_count=len(names),
        accepted_count=len(accepted_names),
        rejected_count=len(rejected),
    )
    session.add(batch)
    session.flush()
    rows = _insert_domains(session, settings, batch, accepted_names, mailbox_type, tags)
    events.record(
        session,
        workspace_id=workspace_id,
        type=EventType.DOMAIN_BATCH_SUBMITTED,
        subject_type="domain_batch",
        subject_id=batch.id,
        actor=actor,
        accepted=len(rows),
        rejected=len(rejected),
    )
    domain_tasks.after_submit(session, settings, [cast(uuid.UUID, row["id"]) for row in rows])
    rejected.sort(key=lambda r: r.index)
    return Submission(batch=batch, accepted=rows, rejected=rejected)


def _normalise_batch(
    names: Sequence[object], local_tlds: Collection[str]
) -> tuple[list[tuple[int, DomainName]], list[Rejection]]:
    seen: set[str] = set()
    candidates: list[tuple[int, DomainName]] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(names):
        result = normalise(raw, local_tlds=local_tlds)
        if isinstance(result, NameError_):
            shown = raw[:253] if isinstance(raw, str) else None
            rejected.append(Rejection(index, shown, result.code, result.detail))
        elif result.ascii in seen:
            rejected.append(
                Rejection(
                    index,
                    result.ascii,
                    "duplicate_in_batch",
                    "This name appears earlier in the same batch.",
                )
            )
        else:
            seen.add(result.ascii)
            candidates.append((index, result))
    return candidates, rejected


def _live_names(session: Session, names: list[str]) -> dict[str, uuid.UUID]:
    """Which of `names` any workspace holds now, and which workspace holds each."""
    held: dict[str, uuid.UUID] = {}
    for start in range(0, len(names), LOOKUP_CHUNK):
        chunk = names[start : start + LOOKUP_CHUNK]
        rows = session.execute(
            select(Domain.name, Domain.workspace_id).where(
                Domain.name.in_(chunk), Domain.status != DomainStatus.REMOVED
            )
        )
        held.update({name: workspace for name, workspace in rows})
    return held


def holders(session: Session, names: list[str]) -> dict[str, uuid.UUID]:
    """Which of `names` (normalised) a workspace holds now, and which one."""
    return _live_names(session, names)


def nameservers_for(settings: Settings, name: str) -> tuple[str, str]:
    """The pair a domain of this name is (or would be) assigned."""
    return nameserver_pair(name, settings.nameserver_pairs)


def add_purchased(
    session: Session,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    name: str,
    nameservers: tuple[str, str],
    actor: str,
) -> uuid.UUID:
    """A domain bought for the workspace (its registrar already delegates to `nameservers`):
    QUEUED like a submitted one, source PURCHASED, on the normal lifecycle from here."""
    now = clock.now()
    found = normalise(name, local_tlds=settings.local_tlds)
    if isinstance(found, NameError_):
        raise Unprocessable(found.detail, code=found.code, field="name")
    row: dict[str, object] = {
        "id": uuid7(),
        "workspace_id": workspace_id,
        "batch_id": None,
        "name": found.ascii,
        "unicode_name": found.unicode,
        "mailbox_type": None,
        "nameserver_1": nameservers[0],
        "nameserver_2": nameservers[1],
        "source": DomainSource.PURCHASED,
        "tags": [],
        "created_at": now,
        "updated_at": now,
    }
    lifecycle.queue_new(session, settings, [row])
    domain_id = cast(uuid.UUID, row["id"])
    domain_tasks.after_submit(session, settings, [domain_id])
    return domain_id


def _insert_domains(
    session: Session,
    settings: Settings,
    batch: DomainBatch,
    names: list[DomainName],
    mailbox_type: MailboxType | None,
    tags: list[str],
) -> list[dict[str, object]]:
    now = clock.now()
    # One created_at for the whole batch, so its ids carry the order the names were submitted
    # in (lists by id or by created_at show it): uuid7s minted in one millisecond are not in
    # order among themselves, sorted they are.
    ids = sorted(uuid7() for _ in names)
    rows: list[dict[str, object]] = []
    for row_id, name in zip(ids, names, strict=True):
        ns1, ns2 = nameserver_pair(name.ascii, settings.nameserver_pairs)
        rows.append(
            {
                "id": row_id,
                "workspace_id": batch.workspace_id,
                "batch_id": batch.id,
                "name": name.ascii,
                "unicode_name": name.unicode,
                "mailbox_type": mailbox_type,
                "nameserver_1": ns1,
                "nameserver_2": ns2,
                "tags": tags,
                "created_at": now,
                "updated_at": now,
            }
        )
    lifecycle.queue_new(session, settings, rows)
    for row in rows:
        row["nameservers"] = [row["nameserver_1"], row["nameserver_2"]]
    return rows


def list_domains(session: Session, query: DomainQuery) -> tuple[Sequence[Domain], str | None]:
    """One page of the workspace's domains (REMOVED ones only when asked for by status)."""
    statement = scoped(Domain, query.workspace_id)
    if query.statuses:
        statement = statement.where(Domain.status.in_(query.statuses))
    else:
        statement = statement.where(Domain.status != DomainStatus.REMOVED)
    if query.mailbox_type is not None:
        statement = statement.where(Domain.mailbox_type == query.mailbox_type)
    if query.batch_id is not None:
        statement = statement.where(Domain.batch_id == query.batch_id)
    if query.text:
        pattern = contains_pattern(query.text)
        statement = statement.where(
            or_(
                Domain.name.like(pattern, escape="\\"),
                Domain.unicode_name.like(pattern, escape="\\"),
            )
        )
    return sorted_page(session, statement, query)


def get_domain(session: Session, *, workspace_id: uuid.UUID, domain_id: uuid.UUID) -> Domain:
    return get_scoped(session, Domain, workspace_id, domain_id)


def get_domain_for_update(
    session: Session, workspace_id: uuid.UUID, domain_id: uuid.UUID
) -> Domain:
    return get_scoped(session, Domain, workspace_id, domain_id, for_update=True)


def update_settings(
    session: Session,
    settings: Settings,
    secrets: SecretBox,
    *,
    workspace_id: uuid.UUID,
    domain_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
) -> tuple[Domain, dns_delivery.Change | None]:
    """Change a domain's settings; record templates that depend on them are republished.

    The caller commits, then hands the records' change (if any) to `dns_delivery.deliver`: the
    provider is called with no lock held, and its refusal puts the settings back too.
    """
    domain = get_domain_for_update(session, workspace_id, domain_id)
    if domain.status == DomainStatus.REMOVED:
        raise Conflict("The domain was removed.", code="domain_removed")
    # null means "clear" only where clearing makes sense; elsewhere it keeps the value.
    changes = {k: v for k, v in changes.items() if v is not None or k in CLEARABLE}
    if changes.get("forwarding_url") is not None:
        changes["forwarding_url"] = str(changes["forwarding_url"])
    if "mailbox_type" in changes and changes["mailbox_type"] != domain.mailbox_type:
        _check_type_change(session, domain, changes["mailbox_type"])
    if changes.get("forwarding_code") and not (
        changes.get("forwarding_url") or domain.forwarding_url
    ):
        raise Unprocessable(
            "Set forwarding_url to use a redirect code.",
            code="forwarding_url_required",
            field="forwarding_code",
        )
    if "email_forwards" in changes:
        changes["email_forwards"] = _forwards(changes["email_forwards"])
    original = {name: getattr(domain, name) for name in (*changes, "forwarding_code")}
    zone_before = (domain.dns_serial, domain.updated_at)
    for name, value in changes.items():
        setattr(domain, name, value)
    if "forwarding_url" in changes and changes["forwarding_url"] is None:
        domain.forwarding_code = None
    elif domain.forwarding_url and domain.forwarding_code is None:
        domain.forwarding_code = 301
    domain.updated_at = clock.now()
    events.record(
        session,
        workspace_id=workspace_id,
        type=EventType.DOMAIN_SETTINGS_CHANGED,
        subject_type="domain",
        subject_id=domain.id,
        actor=actor,
        fields=sorted(changes),
    )
    if changes.keys() & {"catch_all_target", "email_forwards"}:
        enqueue_after_commit(session, APPLY_FORWARDING, str(domain.id))
    change = None
    if changes.keys() & TEMPLATE_INPUTS and domain.zone_id is not None:
        change = dns_service.republish(session, settings, secrets, domain)
    if change is not None:
        undo = _put_settings_back(domain, original, actor=actor)
        change = dns_delivery.also_undo(change, undo, before=zone_before)
    return domain, change


def _put_settings_back(
    domain: Domain, original: dict[str, Any], *, actor: str
) -> Callable[[Session], None]:
    """Undo of a settings change the DNS provider refused after its commit. A column another
    request changed meanwhile keeps that request's value; the revert is recorded, since the
    change's own event may already have reached the webhooks."""
    applied = {name: getattr(domain, name) for name in original}
    domain_id, workspace_id = domain.id, domain.workspace_id

    def undo(side: Session) -> None:
        current = side.get(Domain, domain_id)
        if current is None:
            return
        reverted = sorted(
            name
            for name, value in applied.items()
            if value != original[name] and getattr(current, name) == value
        )
        for name in reverted:
            setattr(current, name, original[name])
        events.record(
            side,
            workspace_id=workspace_id,
            type=EventType.DOMAIN_SETTINGS_CHANGED,
            subject_type="domain",
            subject_id=domain_id,
            actor=actor,
            fields=reverted,
            reverted=True,
            reason="dns_provider_error",
        )
        if set(reverted) & {"catch_all_target", "email_forwards"}:
            # The forwarding job of the change may have applied it already: apply it back.
            enqueue_after_commit(side, APPLY_FORWARDING, str(domain_id))

    return undo


def _forwards(forwards: dict[str, str] | None) -> dict[str, str]:
    """Local parts follow the username rule (3); keys are stored normalised."""
    return {
        normalise_username(local, f"email_forwards.{local}"): target
        for local, target in (forwards or {}).items()
    }


CLEARABLE = frozenset(
    {"mailbox_type", "dmarc_rua", "forwarding_url", "catch_all_target", "email_forwards"}
)
# Settings the managed DNS records are made from.
TEMPLATE_INPUTS = frozenset({"mailbox_type", "dmarc_policy", "dmarc_rua", "forwarding_url"})


def _check_type_change(session: Session, domain: Domain, mailbox_type: MailboxType | None) -> None:
    ordered = session.scalar(
        select(func.count()).select_from(Mailbox).where(Mailbox.domain_id == domain.id)
    )
    if ordered:
        raise Conflict(
            "Mailboxes were ordered on this domain; its mailbox type is fixed.",
            code="mailbox_type_fixed",
            field="mailbox_type",
        )


def remove_domain(
    session: Session, *, workspace_id: uuid.UUID, domain_id: uuid.UUID, actor: str
) -> Domain:
    domain = get_scoped(session, Domain, workspace_id, domain_id, for_update=True)
    if domain.status == DomainStatus.REMOVED:
        return domain
    live = session.scalar(
        select(func.count())
        .select_from(Mailbox)
        .where(Mailbox.domain_id == domain.id, Mailbox.status.in_(DOMAIN_SLOT_STATUSES))
    )
    if live:
        raise Conflict(
            f"The domain still has {live} mailbox(es); remove them first.",
            code="domain_has_mailboxes",
        )
    lifecycle.move(session, domain, DomainStatus.REMOVED, actor=actor)
    if domain.zone_id is not None:
        dns_tasks.after_remove(session, domain)
    return domain


@dataclass(frozen=True)
class BatchDomain:
    id: uuid.UUID
    name: str
    status: DomainStatus
    nameserver_1: str
    nameserver_2: str
    created_at: datetime


@dataclass
class BatchReport:
    batch: DomainBatch
    counts: dict[DomainStatus, int]
    # Every domain of the batch, by name.
    domains: list[BatchDomain]

    @property
    def status(self) -> str:
        waiting = self.counts.get(DomainStatus.QUEUED, 0) + self.counts.get(
            DomainStatus.PENDING_NS, 0
        )
        return "PENDING" if waiting else "DONE"

    @property
    def groups(self) -> list[tuple[tuple[str, str], list[BatchDomain]]]:
        """The domains by nameserver pair, pairs sorted, names sorted in each."""
        grouped: dict[tuple[str, str], list[BatchDomain]] = defaultdict(list)
        for domain in self.domains:
            grouped[(domain.nameserver_1, domain.nameserver_2)].append(domain)
        return sorted(grouped.items())


def batch_report(session: Session, *, workspace_id: uuid.UUID, batch_id: uuid.UUID) -> BatchReport:
    batch = get_scoped(session, DomainBatch, workspace_id, batch_id)
    rows = session.execute(
        scoped_columns(
            Domain,
            workspace_id,
            Domain.id,
            Domain.name,
            Domain.status,
            Domain.nameserver_1,
            Domain.nameserver_2,
            Domain.created_at,
        )
        .where(Domain.batch_id == batch.id)
        .order_by(Domain.name)
    ).all()
    domains = [BatchDomain(*row) for row in rows]
    counts: Counter[DomainStatus] = Counter(domain.status for domain in domains)
    return BatchReport(batch, {s: counts.get(s, 0) for s in DomainStatus}, domains)


def domains_by_id(
    session: Session, workspace_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Domain]:
    """The workspace's domains among `ids` (any status), in one query per chunk."""
    found: dict[uuid.UUID, Domain] = {}
    wanted = list(ids)
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        statement = scoped(Domain, workspace_id).where(Domain.id.in_(chunk))
        found.update((domain.id, domain) for domain in session.scalars(statement))
    return found


def list_batches(
    session: Session, *, workspace_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[Sequence[DomainBatch], str | None]:
    statement = paginate(scoped(DomainBatch, workspace_id), DomainBatch.id, cursor, limit)
    return split_page(session.scalars(statement).all(), limit, lambda b: b.id)
