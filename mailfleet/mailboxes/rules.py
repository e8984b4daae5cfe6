"""Business rules on mailboxes (DESIGN.md section 2), shared by ordering and editing.

Each check raises a MailfleetError with a stable code. The callers hold the locks that make
check-then-insert race-free (see `orders.service.create_order`). The rules' parameters (limits
per type, the 24-hour rule's mode, the Microsoft rule) come from the surface's policy profile
(`mailfleet.policy`), never from a surface's own copy of a rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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
) -> None:
    statement = select(Mailbox.username).where(
        Mailbox.domain_id == domain_id,
        Mailbox.username.in_(usernames),
        Mailbox.status.in_(LIVE_STATUSES),
    )
    if exclude_id is not None:
        statement = statement.where(Mailbox.id != exclude_id)
    taken = set(session.scalars(statement))
    for index, username in enumerate(usernames):
        if username in taken:
            raise Conflict(
                f"The username {username!r} is already used on this domain.",
                code="username_taken",
                field=field.format(index=index),
            )


def check_domain_accepts(
    session: Session,
    profile: PolicyProfile,
    domain: Domain,
    mailbox_type: MailboxType,
    count: int,
    now: datetime,
) -> None:
    """Rules 1, 7, 5, 6 and 2 for `count` new mailboxes of `mailbox_type` on `domain`."""
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
    if mailbox_type == MailboxType.MICROSOFT and profile.microsoft_wait_for_active:
        _check_microsoft_settled(session, domain)
    _check_recent_creation(session, profile, domain, now)
    limit = profile.domain_limit(mailbox_type)
    used = session.scalar(
        select(func.count())
        .select_from(Mailbox)
        .where(Mailbox.domain_id == domain.id, Mailbox.status.in_(DOMAIN_SLOT_STATUSES))
    )
    if (used or 0) + count > limit:
        raise Conflict(
            f"{domain.name} can hold {limit} {mailbox_type.value} mailboxes; it has {used} and "
            f"this order adds {count}.",
            code="domain_mailbox_limit",
            field="mailboxes",
        )


def _check_microsoft_settled(session: Session, domain: Domain) -> None:
    waiting = session.scalar(
        select(Mailbox.id)
        .where(
            Mailbox.domain_id == domain.id,
            Mailbox.mailbox_type == MailboxType.MICROSOFT,
            Mailbox.status.in_((MailboxStatus.PENDING, MailboxStatus.PROVISIONING)),
        )
        .limit(1)
    )
    if waiting is not None:
        raise Conflict(
            f"{domain.name} has Microsoft mailboxes that are not active yet; order more once "
            "they are.",
            code="microsoft_mailboxes_not_active",
            field="domain",
        )


def _check_recent_creation(
    session: Session, profile: PolicyProfile, domain: Domain, now: datetime
) -> None:
    rule = profile.recent_creation_rule
    if rule == RecentCreationRule.OFF:
        return
    hours = profile.recent_creation_hours
    cutoff = now - timedelta(hours=hours)
    counted = (Mailbox.domain_id == domain.id, Mailbox.status != MailboxStatus.FAILED)
    if rule == RecentCreationRule.SEED:
        recent = session.scalar(
            select(Mailbox.id).where(*counted, Mailbox.created_at > cutoff).limit(1)
        )
        if recent is not None:
            raise Conflict(
                f"Mailboxes were created on {domain.name} within the last {hours} hours; "
                "try again later.",
                code="recent_mailbox_creation",
                field="domain",
            )
        return
    first = session.scalar(select(func.min(Mailbox.created_at)).where(*counted))
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
