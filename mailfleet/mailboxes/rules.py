"""Business rules on mailboxes (DESIGN.md section 2), shared by ordering and editing.

Each check raises a MailfleetError with a stable code. The callers hold the locks that make
check-then-insert race-free (see `orders.service.create_order`). The rules' parameters (limits
per type, the 24-hour rule's mode, the Microsoft rule) come from the surface's policy profile
(`mailfleet.policy`), never from a surface's own copy of a rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.billing.slots import Quota, quota
from mailfleet.config import RecentCreationRule
from mailfleet.domains.names import normalise_username
from mailfleet.exceptions import Conflict, Unprocessable
from mailfleet.models import Allocation, Domain, DomainStatus, Mailbox, MailboxStatus, MailboxType
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES
from mailfleet.policy import PolicyProfile

# A username is taken on its domain until its mailbox failed or was removed.
LIVE_STATUSES = (*DOMAIN_SLOT_STATUSES,)


def normalise_usernames(raws: Sequence[str]) -> list[str]:
    """Syntax of each, then duplicates within the list (422)."""
    usernames = [normalise_username(raw, f"mailboxes[{i}].username") for i, raw in enumerate(raws)]
    seen: set[str] = set()
    for index, username in enumerate(usernames):
        if username in seen:
            raise Unprocessable(
                f"The username {username!r} appears twice in this order.",
                code="duplicate_username",
                field=f"mailboxes[{index}].username",
            )
        seen.add(username)
    return usernames


def check_usernames_free(
    session: Session,
    domain_id: uuid.UUID,
    usernames: Sequence[str],
    *,
    exclude_id: uuid.UUID | None = None,
    field: str = "mailboxes[{index}].username",
    taken: Collection[str] | None = None,
) -> None:
    """`taken` is what `taken_usernames` found for the domain when the caller read many
    domains at once (a batch of orders); otherwise it is read here."""
    if taken is None:
        taken = taken_usernames(session, {domain_id: usernames}, exclude_id=exclude_id)[domain_id]
    for index, username in enumerate(usernames):
        if username in taken:
            raise Conflict(
                f"The username {username!r} is already used on this domain.",
                code="username_taken",
                field=field.format(index=index),
            )


def taken_usernames(
    session: Session,
    wanted: Mapping[uuid.UUID, Collection[str]],
    *,
    exclude_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, set[str]]:
    """Of the usernames wanted on each domain, those a live mailbox holds: one query for all
    the domains (a name wanted on one domain and taken on another is filtered out here)."""
    found: dict[uuid.UUID, set[str]] = {domain_id: set() for domain_id in wanted}
    names = {name for usernames in wanted.values() for name in usernames}
    if not names:
        return found
    statement = select(Mailbox.domain_id, Mailbox.username).where(
        Mailbox.domain_id.in_(list(wanted)),
        Mailbox.username.in_(names),
        Mailbox.status.in_(LIVE_STATUSES),
    )
    if exclude_id is not None:
        statement = statement.where(Mailbox.id != exclude_id)
    for domain_id, username in session.execute(statement):
        if username in wanted[domain_id]:
            found[domain_id].add(username)
    return found


@dataclass(frozen=True)
class DomainFacts:
    """What the domain rules read about a domain's mailboxes (`domain_facts`)."""

    used: int = 0  # mailboxes holding one of the domain's slots
    microsoft_waiting: bool = False  # Microsoft mailboxes PENDING or PROVISIONING
    first_created: datetime | None = None  # of its mailboxes that did not fail
    last_created: datetime | None = None


def domain_facts(
    session: Session, domain_ids: Collection[uuid.UUID], *, microsoft: Collection[uuid.UUID] = ()
) -> dict[uuid.UUID, DomainFacts]:
    """The facts of many domains in one grouped query per rule (a batch of orders reads them
    once per round instead of three queries per domain); `microsoft` names the domains whose
    Microsoft rule applies, the only ones its query reads."""
    if not domain_ids:
        return {}
    ids = list(domain_ids)
    used = dict(
        session.execute(
            select(Mailbox.domain_id, func.count())
            .where(Mailbox.domain_id.in_(ids), Mailbox.status.in_(DOMAIN_SLOT_STATUSES))
            .group_by(Mailbox.domain_id)
        ).all()
    )
    created = {
        domain_id: (first, last)
        for domain_id, first, last in session.execute(
            select(Mailbox.domain_id, func.min(Mailbox.created_at), func.max(Mailbox.created_at))
            .where(Mailbox.domain_id.in_(ids), Mailbox.status != MailboxStatus.FAILED)
            .group_by(Mailbox.domain_id)
        )
    }
    waiting = _microsoft_waiting(session, microsoft)
    return {
        domain_id: DomainFacts(
            used.get(domain_id, 0), domain_id in waiting, *created.get(domain_id, (None, None))
        )
        for domain_id in ids
    }


def _microsoft_waiting(session: Session, domain_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    if not domain_ids:
        return set()
    return set(
        session.scalars(
            select(Mailbox.domain_id)
            .where(
                Mailbox.domain_id.in_(list(domain_ids)),
                Mailbox.mailbox_type == MailboxType.MICROSOFT,
                Mailbox.status.in_((MailboxStatus.PENDING, MailboxStatus.PROVISIONING)),
            )
            .distinct()
        )
    )


def microsoft_rule_applies(profile: PolicyProfile, mailbox_type: MailboxType) -> bool:
    return mailbox_type == MailboxType.MICROSOFT and profile.microsoft_wait_for_active


def check_domain_accepts(
    session: Session,
    profile: PolicyProfile,
    domain: Domain,
    mailbox_type: MailboxType,
    count: int,
    now: datetime,
    *,
    facts: DomainFacts | None = None,
) -> None:
    """Rules 1, 7, 5, 6 and 2 for `count` new mailboxes of `mailbox_type` on `domain`.

    `facts` is what `domain_facts` read for the domain when the caller read many at once."""
    if domain.status != DomainStatus.ACTIVE:
        raise Conflict(
            f"Mailboxes can be ordered on ACTIVE domains only; {domain.name} is "
            f"{domain.status.value}.",
            code="domain_not_active",
            field="domain",
        )
    if domain.mailbox_type is not None and domain.mailbox_type != mailbox_type:
        raise Conflict(
            f"{domain.name} holds {domain.mailbox_type.value} mailboxes only.",
            code="domain_type_mismatch",
            field="type",
        )
    if facts is None:
        microsoft = [domain.id] if microsoft_rule_applies(profile, mailbox_type) else []
        facts = domain_facts(session, [domain.id], microsoft=microsoft)[domain.id]
    if microsoft_rule_applies(profile, mailbox_type) and facts.microsoft_waiting:
        raise Conflict(
            f"{domain.name} has Microsoft mailboxes that are not active yet; order more once "
            "they are.",
            code="microsoft_mailboxes_not_active",
            field="domain",
        )
    _check_recent_creation(profile, domain, facts, now)
    limit = profile.domain_limit(mailbox_type)
    if facts.used + count > limit:
        raise Conflict(
            f"{domain.name} can hold {limit} {mailbox_type.value} mailboxes; it has "
            f"{facts.used} and this order adds {count}.",
            code="domain_mailbox_limit",
            field="mailboxes",
        )


def _check_recent_creation(
    profile: PolicyProfile, domain: Domain, facts: DomainFacts, now: datetime
) -> None:
    rule = profile.recent_creation_rule
    if rule == RecentCreationRule.OFF:
        return
    hours = profile.recent_creation_hours
    cutoff = now - timedelta(hours=hours)
    if rule == RecentCreationRule.SEED:
        # Any mailbox created after the cutoff: the newest one is.
        last = facts.last_created
        if last is not None and last.replace(tzinfo=now.tzinfo) > cutoff:
            raise Conflict(
                f"Mailboxes were created on {domain.name} within the last {hours} hours; "
                "try again later.",
                code="recent_mailbox_creation",
                field="domain",
            )
        return
    first = facts.first_created
    if first is not None and first.replace(tzinfo=now.tzinfo) < cutoff:
        raise Conflict(
            f"Mailboxes can be added to {domain.name} only within {hours} hours of its first "
            "mailbox.",
            code="recent_mailbox_creation",
            field="domain",
        )


def check_quota(
    session: Session,
    allocation: Allocation | None,
    workspace_id: uuid.UUID,
    mailbox_type: MailboxType,
    count: int,
    now: datetime,
    *,
    found: Quota | None = None,
) -> None:
    """Rule 4: slots of the type minus the slots held must cover `count` new mailboxes.

    The slots are the grant plus what the workspace bought (billing.slots.quota); `found` is
    that quota when the caller read it already (a batch of orders reads many at once)."""
    if found is None:
        granted = allocation.slots if allocation is not None else 0
        found = quota(session, workspace_id, mailbox_type, now, granted=granted)
    slots, used = found.allocated, found.used
    if used + count > slots:
        raise Conflict(
            f"The workspace has {max(0, slots - used)} free {mailbox_type.value} slot(s); "
            f"this order needs {count}.",
            code="quota_exceeded",
            field="mailboxes",
        )
