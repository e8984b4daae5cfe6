"""Domains a page at a time by number, with how many mailboxes each holds: the listings of
the compat surfaces (Zapmail's domain lists). A bounded number of queries per page: the page
and its count, and the pages' mailboxes when asked for."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, and_, case, cast, false, func, or_, select
from sqlalchemy.orm import Session

from mailfleet.kit.pagination import contains_pattern, numbered_page
from mailfleet.models import (
    Domain,
    DomainSource,
    DomainStatus,
    Mailbox,
    MailboxStatus,
    MailboxType,
)
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES


@dataclass
class DomainEntry:
    domain: Domain
    # Mailboxes holding one of the domain's places (live: not failed, not removed).
    assigned: int
    mailboxes: list[Mailbox] = field(default_factory=list)


@dataclass(frozen=True)
class DomainFilter:
    statuses: Collection[DomainStatus] | None = None
    contains: str | None = None
    # Any of these tags.
    tags: Collection[str] | None = None
    # Only ACTIVE domains with a free place under these per-type limits (a domain without a
    # type yet counts under `default_type`'s).
    free_under: Mapping[MailboxType, int] | None = None
    default_type: MailboxType = MailboxType.GOOGLE
    source: DomainSource | None = None
    # Whether the delegation was checked at least once (None: either).
    checked: bool | None = None
    # Only domains of this mailbox type (a domain without a type yet counts as `default_type`).
    mailbox_type: MailboxType | None = None


def _assigned_counts() -> Any:
    return (
        select(Mailbox.domain_id, func.count().label("assigned"))
        .where(Mailbox.status.in_(DOMAIN_SLOT_STATUSES))
        .group_by(Mailbox.domain_id)
        .subquery()
    )


def page_of_domains(
    session: Session,
    workspace_id: uuid.UUID,
    wanted: DomainFilter,
    *,
    page: int,
    limit: int,
    with_mailboxes: bool = False,
) -> tuple[list[DomainEntry], int]:
    """Live (not REMOVED) domains of the workspace by name, and how many match in all."""
    rows, total = numbered_page(
        session,
        matching(workspace_id, wanted).order_by(Domain.name, Domain.id),
        page=page,
        limit=limit,
        scalars=False,
    )
    entries = [DomainEntry(domain, int(count)) for domain, count in rows]
    if with_mailboxes and entries:
        _attach_mailboxes(session, entries)
    return entries, total


def matching_ids(
    session: Session, workspace_id: uuid.UUID, wanted: DomainFilter
) -> list[uuid.UUID]:
    """Every live domain `wanted` picks, by name: what a bulk action by filter acts on."""
    picked = matching(workspace_id, wanted).order_by(Domain.name, Domain.id).subquery()
    return list(session.scalars(select(picked.c.id)))


def matching(workspace_id: uuid.UUID, wanted: DomainFilter) -> Any:
    """The workspace's live domains `wanted` picks, with their assigned counts."""
    counts = _assigned_counts()
    assigned = func.coalesce(counts.c.assigned, 0).label("assigned")
    statement = (
        select(Domain, assigned)
        .outerjoin(counts, counts.c.domain_id == Domain.id)
        .where(Domain.workspace_id == workspace_id, Domain.status != DomainStatus.REMOVED)
    )
    if wanted.source is not None:
        statement = statement.where(Domain.source == wanted.source)
    if wanted.mailbox_type is not None:
        of_type = Domain.mailbox_type == wanted.mailbox_type
        if wanted.mailbox_type == wanted.default_type:
            of_type = or_(of_type, Domain.mailbox_type.is_(None))
        statement = statement.where(of_type)
    if wanted.checked is not None:
        checked = Domain.last_checked_at.is_not(None)
        statement = statement.where(checked if wanted.checked else ~checked)
    if wanted.statuses is not None:
        chosen = list(wanted.statuses)
        statement = statement.where(Domain.status.in_(chosen) if chosen else false())
    if wanted.contains and wanted.contains.strip():
        statement = statement.where(
            Domain.name.ilike(contains_pattern(wanted.contains), escape="\\")
        )
    if wanted.tags:
        # Tags are a JSON list: a tag is in it when its JSON string is (both backends store
        # the list as text; the JSON quoting keeps "a" from matching "ab").
        text = cast(Domain.tags, String)
        statement = statement.where(
            or_(*(text.contains(json.dumps(tag), autoescape=True) for tag in wanted.tags))
        )
    if wanted.free_under is not None:
        limits = wanted.free_under
        limit_of = case(
            *((Domain.mailbox_type == kind, value) for kind, value in limits.items()),
            else_=limits[wanted.default_type],
        )
        statement = statement.where(and_(Domain.status == DomainStatus.ACTIVE, assigned < limit_of))
    return statement


def _attach_mailboxes(session: Session, entries: Sequence[DomainEntry]) -> None:
    by_id = {entry.domain.id: entry for entry in entries}
    for mailbox in session.scalars(
        select(Mailbox)
        .where(Mailbox.domain_id.in_(by_id), Mailbox.status != MailboxStatus.REMOVED)
        .order_by(Mailbox.domain_id, Mailbox.username)
    ):
        by_id[mailbox.domain_id].mailboxes.append(mailbox)


def tag_counts(session: Session, workspace_id: uuid.UUID) -> list[tuple[str, int]]:
    """Every tag on the workspace's live domains, by name, with how many domains carry it."""
    counted: Counter[str] = Counter()
    for tags in session.scalars(
        select(Domain.tags).where(
            Domain.workspace_id == workspace_id, Domain.status != DomainStatus.REMOVED
        )
    ):
        counted.update(set(tags or ()))
    return sorted(counted.items())


def by_names(
    session: Session, workspace_id: uuid.UUID, names: Collection[str]
) -> dict[str, Domain]:
    """The workspace's live domains among `names` (normalised ASCII names), by name."""
    if not names:
        return {}
    found = session.scalars(
        select(Domain).where(
            Domain.workspace_id == workspace_id,
            Domain.name.in_(list(names)),
            Domain.status != DomainStatus.REMOVED,
        )
    )
    return {domain.name: domain for domain in found}
