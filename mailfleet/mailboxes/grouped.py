"""Mailboxes grouped by their domain, a page of domains at a time, with the workspace's slot
totals: the shape of listings that show a domain with its mailboxes (Zapmail's mailbox list).

Three queries per page whatever its size: the page of domains (and their count), their live
mailboxes, and the totals.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Exists, Select, exists, func, or_, select
from sqlalchemy.orm import Session

from mailfleet.billing import slots
from mailfleet.kit.pagination import contains_pattern, numbered_page
from mailfleet.models import Domain, Mailbox, MailboxStatus, MailboxType


@dataclass
class DomainMailboxes:
    domain: Domain
    mailboxes: list[Mailbox] = field(default_factory=list)


@dataclass(frozen=True)
class GroupedPage:
    items: list[DomainMailboxes]
    # Domains holding live mailboxes (that match `contains`), over every page.
    total: int
    # The workspace's slots, every type: owned, in use by live mailboxes, and ACTIVE ones.
    purchased: int
    assigned: int
    active: int

    @property
    def available(self) -> int:
        return max(0, self.purchased - self.assigned)


def _live(workspace_id: uuid.UUID) -> Select[Any]:
    return select(Mailbox.domain_id).where(
        Mailbox.workspace_id == workspace_id, Mailbox.status != MailboxStatus.REMOVED
    )


def _has_live(mailbox_type: MailboxType | None) -> Exists:
    """The domain holds a live mailbox (of `mailbox_type`): one probe of the (domain_id, status)
    index per domain, where `IN (the workspace's live mailboxes)` built a list of every one of
    them first (about 80 ms at 100,000 mailboxes, twice a page). A mailbox always belongs to its
    domain's workspace, so the domain's own filter covers the workspace."""
    return exists().where(
        Mailbox.domain_id == Domain.id,
        Mailbox.status != MailboxStatus.REMOVED,
        *_of_type(mailbox_type),
    )


def by_domain(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    contains: str | None,
    page: int,
    limit: int,
    mailbox_type: MailboxType | None = None,
) -> GroupedPage:
    """Domains with live (not REMOVED) mailboxes, by name; `contains` matches the domain's
    name or a mailbox's address. With `mailbox_type`, only mailboxes of that type count (in the
    page and in the totals)."""
    live = _live(workspace_id)
    if mailbox_type is not None:
        live = live.where(Mailbox.mailbox_type == mailbox_type)
    statement = select(Domain).where(Domain.workspace_id == workspace_id, _has_live(mailbox_type))
    if contains and contains.strip():
        pattern = contains_pattern(contains)
        matching = live.where(Mailbox.address.ilike(pattern, escape="\\"))
        statement = statement.where(
            or_(Domain.name.ilike(pattern, escape="\\"), Domain.id.in_(matching))
        )
    domains, total = numbered_page(
        session, statement.order_by(Domain.name, Domain.id), page=page, limit=limit
    )
    grouped = {d.id: DomainMailboxes(d) for d in domains}
    if grouped:
        for mailbox in session.scalars(
            select(Mailbox)
            .where(
                Mailbox.domain_id.in_(grouped),
                Mailbox.status != MailboxStatus.REMOVED,
                *_of_type(mailbox_type),
            )
            .order_by(Mailbox.domain_id, Mailbox.username)
        ):
            grouped[mailbox.domain_id].mailboxes.append(mailbox)
    per_type = slots.usage(session, workspace_id)
    usage = per_type.values() if mailbox_type is None else [per_type[mailbox_type]]
    active = session.scalar(
        select(func.count())
        .select_from(Mailbox)
        .where(
            Mailbox.workspace_id == workspace_id,
            Mailbox.status == MailboxStatus.ACTIVE,
            *_of_type(mailbox_type),
        )
    )
    return GroupedPage(
        items=list(grouped.values()),
        total=total,
        purchased=sum(u.allocated for u in usage),
        assigned=sum(u.used for u in usage),
        active=int(active or 0),
    )


def _of_type(mailbox_type: MailboxType | None) -> list[Any]:
    return [] if mailbox_type is None else [Mailbox.mailbox_type == mailbox_type]


def live_of_types(
    session: Session, workspace_id: uuid.UUID, types: list[str], *, limit: int = 10_000
) -> list[Mailbox]:
    """The workspace's live (not REMOVED, not FAILED) mailboxes of `types`, by address: the
    mailboxes a subscription covering those types holds slots for."""
    return list(
        session.scalars(
            select(Mailbox)
            .where(
                Mailbox.workspace_id == workspace_id,
                Mailbox.mailbox_type.in_(types),
                Mailbox.status.not_in((MailboxStatus.REMOVED, MailboxStatus.FAILED)),
            )
            .order_by(Mailbox.address)
            .limit(limit)
        )
    )
