"""Mailboxes scheduled on a domain for creation at the next renewal of the subscription that
covers their type (Zapmail's schedule operation). The caller commits.

A schedule is accepted only when a slot will be free at that renewal:

    slots at renewal = grants of the type's pool
                       + slots of the pool's subscriptions that renew (not cancelling)
                       + their add-ons that renew
                       - live mailboxes of the pool not scheduled for removal
                       - mailboxes already scheduled in the pool

Usernames follow the order rules (`mailboxes.rules`, reached through the renewals hook, since
billing sits below mailboxes). At the renewal the paid subscription's schedules become one
mailbox order per domain through the orders service (one batch for a whole renewal chunk):
SCHEDULED -> CREATED, or SKIPPED with the rule that refused them; a renewal that is not paid
creates none (SKIPPED at expiry or cancellation; while past due they wait for a retry that
pays).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import get_scoped, scoped
from mailfleet.billing import slots
from mailfleet.billing.renewals.hooks import NewMailbox, NewOrder, mailbox_side
from mailfleet.billing.scheduled import transitions
from mailfleet.billing.scheduled.errors import (
    MailboxTypeRequired,
    NoSlotAtRenewal,
    NoSubscriptionForType,
    ScheduleClosed,
    ScheduledMailboxNotFound,
    UsernameScheduled,
)
from mailfleet.config import Settings
from mailfleet.events.types import EventType
from mailfleet.exceptions import MailfleetError, NotFound
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import (
    AddonSlots,
    Domain,
    DomainStatus,
    Mailbox,
    MailboxStatus,
    MailboxType,
    ScheduledMailbox,
    ScheduledMailboxStatus,
    Subscription,
    SubscriptionStatus,
)

SM = ScheduledMailboxStatus
HOLDING = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
# Live and staying past the renewal: every live status but REMOVAL_SCHEDULED.
STAYING = (
    MailboxStatus.PENDING,
    MailboxStatus.PROVISIONING,
    MailboxStatus.ACTIVE,
    MailboxStatus.SUSPENDED,
)


def covering(session: Session, workspace_id: uuid.UUID, mailbox_type: MailboxType) -> Subscription:
    """The renewing subscription covering the type whose renewal comes first."""
    candidates = session.scalars(
        select(Subscription)
        .where(
            Subscription.workspace_id == workspace_id,
            Subscription.status.in_(HOLDING),
            Subscription.cancel_at_period_end.is_(False),
        )
        .order_by(Subscription.current_period_end, Subscription.id)
    ).all()
    for subscription in candidates:
        if mailbox_type.value in subscription.mailbox_types:
            return subscription
    raise NoSubscriptionForType(
        f"No renewing subscription covers {mailbox_type.value} mailboxes.", field="mailbox_type"
    )


def free_at_renewal(session: Session, workspace_id: uuid.UUID, mailbox_type: MailboxType) -> int:
    """Slots of the type's pool free once its subscriptions renew (see the module)."""
    now = clock.now()
    pool = slots.bought(session, workspace_id, now).pool(mailbox_type)
    granted = slots.grants(session, workspace_id)
    renewing = session.scalars(
        select(Subscription).where(
            Subscription.workspace_id == workspace_id,
            Subscription.status.in_(HOLDING),
            Subscription.cancel_at_period_end.is_(False),
        )
    ).all()
    renewing = [s for s in renewing if pool & {MailboxType(t) for t in s.mailbox_types}]
    addons = session.scalar(
        select(func.coalesce(func.sum(AddonSlots.quantity), 0)).where(
            AddonSlots.subscription_id.in_([s.id for s in renewing]),
            AddonSlots.mailbox_type.in_(pool),
            AddonSlots.renew.is_(True),
            AddonSlots.removed_at.is_(None),
            AddonSlots.period_end > now,
        )
    )
    staying = session.scalar(
        select(func.count()).where(
            Mailbox.workspace_id == workspace_id,
            Mailbox.mailbox_type.in_(pool),
            Mailbox.status.in_(STAYING),
        )
    )
    waiting = session.scalar(
        select(func.count()).where(
            ScheduledMailbox.workspace_id == workspace_id,
            ScheduledMailbox.mailbox_type.in_(pool),
            ScheduledMailbox.status == SM.SCHEDULED,
        )
    )
    total = sum(granted.get(t, 0) for t in pool) + sum(s.slots for s in renewing)
    return total + int(addons or 0) - int(staying or 0) - int(waiting or 0)


def _check_usernames(
    session: Session,
    domain_id: uuid.UUID,
    usernames: Sequence[str],
    *,
    exclude_id: uuid.UUID | None = None,
) -> list[str]:
    """The order rules, then: not already scheduled on the domain."""
    normalised = mailbox_side().check_usernames(session, domain_id, usernames)
    statement = select(ScheduledMailbox.username).where(
        ScheduledMailbox.domain_id == domain_id,
        ScheduledMailbox.status == SM.SCHEDULED,
        ScheduledMailbox.username.in_(normalised),
    )
    if exclude_id is not None:
        statement = statement.where(ScheduledMailbox.id != exclude_id)
    taken = set(session.scalars(statement))
    for index, username in enumerate(normalised):
        if username in taken:
            raise UsernameScheduled(
                f"The username {username!r} is already scheduled on this domain.",
                field=f"mailboxes[{index}].username",
            )
    return normalised


def schedule(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    domain_id: uuid.UUID,
    mailboxes: Sequence[NewMailbox],
    mailbox_type: MailboxType | None,
    actor: str,
) -> list[ScheduledMailbox]:
    domain = session.scalars(
        scoped(Domain, workspace_id).where(Domain.id == domain_id).with_for_update()
    ).first()
    if domain is None or domain.status == DomainStatus.REMOVED:
        raise NotFound("Domain not found.", code="domain_not_found")
    kind = mailbox_type or domain.mailbox_type
    if kind is None:
        raise MailboxTypeRequired(
            "The domain has no mailbox type yet; say which.", field="mailbox_type"
        )
    subscription = covering(session, workspace_id, kind)
    usernames = _check_usernames(session, domain.id, [m.username for m in mailboxes])
    free = free_at_renewal(session, workspace_id, kind)
    if len(mailboxes) > free:
        raise NoSlotAtRenewal(
            f"{max(free, 0)} {kind.value} slot(s) will be free at the renewal on "
            f"{subscription.current_period_end.date()}; this schedules {len(mailboxes)}.",
            field="mailboxes",
        )
    # Sorted, so that id order (how they are listed) is the order they were given in.
    ids = sorted(uuid7() for _ in mailboxes)
    rows = [
        ScheduledMailbox(
            id=row_id,
            workspace_id=workspace_id,
            domain_id=domain.id,
            subscription_id=subscription.id,
            mailbox_type=kind,
            username=username,
            first_name=entry.first_name,
            last_name=entry.last_name,
            scheduled_for=subscription.current_period_end,
            created_by=actor,
        )
        for row_id, entry, username in zip(ids, mailboxes, usernames, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    for row in rows:
        transitions.record(session, EventType.SCHEDULED_MAILBOX_SCHEDULED, row, actor)
    return rows


def list_scheduled(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    domain_id: uuid.UUID | None,
    statuses: list[ScheduledMailboxStatus] | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[ScheduledMailbox], str | None]:
    statement = scoped(ScheduledMailbox, workspace_id)
    if domain_id is not None:
        statement = statement.where(ScheduledMailbox.domain_id == domain_id)
    if statuses:
        statement = statement.where(ScheduledMailbox.status.in_(statuses))
    rows = session.scalars(paginate(statement, ScheduledMailbox.id, cursor, limit)).all()
    return split_page(rows, limit, lambda row: row.id)


def _open(session: Session, workspace_id: uuid.UUID, scheduled_id: uuid.UUID) -> ScheduledMailbox:
    try:
        row = get_scoped(session, ScheduledMailbox, workspace_id, scheduled_id, for_update=True)
    except NotFound:
        raise ScheduledMailboxNotFound("Scheduled mailbox not found.") from None
    if row.status != SM.SCHEDULED or row.scheduled_for <= clock.now().replace(
        tzinfo=row.scheduled_for.tzinfo
    ):
        raise ScheduleClosed(
            f"This scheduled mailbox is {row.status.value} and can no longer change."
        )
    return row


def get_scheduled(
    session: Session, *, workspace_id: uuid.UUID, scheduled_id: uuid.UUID
) -> ScheduledMailbox:
    try:
        return get_scoped(session, ScheduledMailbox, workspace_id, scheduled_id)
    except NotFound:
        raise ScheduledMailboxNotFound("Scheduled mailbox not found.") from None


def update_scheduled(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    scheduled_id: uuid.UUID,
    username: str | None,
    first_name: str | None,
    last_name: str | None,
    actor: str,
) -> ScheduledMailbox:
    row = _open(session, workspace_id, scheduled_id)
    if username is not None:
        row.username = _check_usernames(session, row.domain_id, [username], exclude_id=row.id)[0]
    if first_name is not None:
        row.first_name = first_name
    if last_name is not None:
        row.last_name = last_name
    row.updated_at = clock.now()
    session.flush()
    transitions.record(session, EventType.SCHEDULED_MAILBOX_UPDATED, row, actor)
    return row


def remove_scheduled(
    session: Session, *, workspace_id: uuid.UUID, scheduled_id: uuid.UUID, actor: str
) -> ScheduledMailbox:
    row = _open(session, workspace_id, scheduled_id)
    transitions.move(session, [row], SM.CANCELLED, actor=actor)
    return row


def create_due(
    session: Session, settings: Settings, subscription: Subscription, now: datetime, *, actor: str
) -> int:
    """At a paid renewal: the subscription's due schedules become orders (`create_due_many`)."""
    return create_due_many(session, settings, [subscription], now, actor=actor)


def create_due_many(
    session: Session,
    settings: Settings,
    subscriptions: Sequence[Subscription],
    now: datetime,
    *,
    actor: str,
) -> int:
    """At paid renewals: the subscriptions' due schedules become orders, one per domain and
    type, all in one batch of the orders service; those a rule refuses are SKIPPED with its
    words (the renewals stand), the rest CREATED. Returns how many mailboxes were created."""
    if not subscriptions:
        return 0
    due = session.scalars(
        select(ScheduledMailbox)
        .where(
            ScheduledMailbox.subscription_id.in_([s.id for s in subscriptions]),
            ScheduledMailbox.status == SM.SCHEDULED,
            ScheduledMailbox.scheduled_for <= now,
        )
        .order_by(ScheduledMailbox.id)
        .with_for_update()
    ).all()
    groups: dict[tuple[uuid.UUID, uuid.UUID, MailboxType], list[ScheduledMailbox]] = defaultdict(
        list
    )
    for row in due:
        groups[(row.workspace_id, row.domain_id, row.mailbox_type)].append(row)
    orders = [
        NewOrder(workspace_id, domain_id, kind, [_entry(r) for r in rows])
        for (workspace_id, domain_id, kind), rows in groups.items()
    ]
    results = mailbox_side().create_many(session, settings, orders, actor=actor)
    created: list[ScheduledMailbox] = []
    skipped: dict[str, list[ScheduledMailbox]] = defaultdict(list)
    for rows, result in zip(groups.values(), results, strict=True):
        if isinstance(result, MailfleetError):
            skipped[result.detail] += rows
            continue
        for row, mailbox_id in zip(rows, result, strict=True):
            row.mailbox_id = mailbox_id
        created += rows
    for reason, rows in skipped.items():
        transitions.move(session, rows, SM.SKIPPED, actor=actor, reason=reason)
    transitions.move(session, created, SM.CREATED, actor=actor)
    return len(created)


def _entry(row: ScheduledMailbox) -> NewMailbox:
    return NewMailbox(row.username, row.first_name, row.last_name)


def skip_all(session: Session, subscription_id: uuid.UUID, *, reason: str, actor: str) -> int:
    rows = session.scalars(
        select(ScheduledMailbox)
        .where(
            ScheduledMailbox.subscription_id == subscription_id,
            ScheduledMailbox.status == SM.SCHEDULED,
        )
        .with_for_update()
    ).all()
    transitions.move(session, rows, SM.SKIPPED, actor=actor, reason=reason)
    return len(rows)
