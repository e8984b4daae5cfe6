"""Upgrades (or any change of plan) now: a new subscription on the new plan for a whole new
period, the unused days of the current period credited pro rata (a negative invoice line),
and the old subscription EXPIRED with `replaced_by_id`. A change that would leave fewer slots
than the workspace's mailboxes hold is refused. The caller commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from mailfleet.billing import slots
from mailfleet.billing.invoices.service import Line
from mailfleet.billing.periods import days_in, period_end, prorate, remaining_days
from mailfleet.billing.plans import service as plans
from mailfleet.billing.subscriptions import service, transitions
from mailfleet.billing.subscriptions.errors import BelowUsage, SamePlan, SubscriptionNotActive
from mailfleet.billing.subscriptions.quotes import Quote, purse_of
from mailfleet.events.types import EventType
from mailfleet.exceptions import MailfleetError
from mailfleet.kit import clock
from mailfleet.models import (
    AddonSlots,
    LedgerKind,
    MailboxType,
    Plan,
    ScheduledMailbox,
    ScheduledMailboxStatus,
    Subscription,
)


def credit_line(subscription: Subscription, now: datetime) -> Line | None:
    """The unused days of the current period, at the price paid for it."""
    start, end = subscription.current_period_start, subscription.current_period_end
    amount = prorate(subscription.price_cents, now, start, end)
    if amount <= 0:
        return None
    left, total = remaining_days(now, start, end), days_in(start, end)
    return Line(
        f"Unused time on {subscription.lookup_key} ({left} of {total} days)",
        1,
        -amount,
        -amount,
        now,
        end,
    )


def _usage_refusals(
    session: Session, subscription: Subscription, plan: Plan, now: datetime
) -> list[MailfleetError]:
    """For each type the old plan covers: the slots after the change against those held."""
    errors: list[MailfleetError] = []
    for kind in subscription.mailbox_types:
        mailbox_type = MailboxType(kind)
        found = slots.quota(session, subscription.workspace_id, mailbox_type, now)
        after = found.allocated - subscription.slots
        if kind in plan.mailbox_types:
            after += plan.slots
        if found.used > after:
            errors.append(
                BelowUsage(
                    f"{plan.lookup_key} leaves {after} {mailbox_type.value} slot(s); the "
                    f"workspace's mailboxes hold {found.used}. Remove mailboxes first.",
                    field="lookup_key",
                )
            )
    return errors


def quote_upgrade(
    session: Session,
    subscription: Subscription,
    lookup_key: str,
    default_currency: str,
) -> tuple[Plan, Quote]:
    purse = purse_of(session, subscription.workspace_id, default_currency)
    plan = plans.current(session, lookup_key)
    now = clock.now()
    errors: list[MailfleetError] = []
    if subscription.status not in transitions.HOLDING_SLOTS or subscription.cancel_at_period_end:
        errors.append(
            SubscriptionNotActive(
                "Only an ACTIVE subscription without a scheduled cancellation changes plan; "
                f"this one is {subscription.status.value}."
            )
        )
    if plan.id == subscription.plan_id:
        errors.append(SamePlan("The subscription is on this plan already.", field="lookup_key"))
    try:
        plans.purchasable(session, lookup_key, purse.currency)
    except MailfleetError as refused:
        errors.append(refused)
    errors.extend(_usage_refusals(session, subscription, plan, now))
    lines = [service.plan_line(plan, now, period_end(now, plan.period))]
    credit = credit_line(subscription, now)
    if credit is not None and subscription.status in transitions.HOLDING_SLOTS:
        lines.append(credit)
    return plan, Quote(lines, purse, errors)


def _carry_over(session: Session, old: Subscription, new: Subscription) -> None:
    """Move what hangs off the old subscription onto the new one, so nothing is stranded on
    an EXPIRED row that never renews again.

    Add-ons take the new period's end: renewals pick the add-ons ending at the period they
    renew, so one left on the old end would never renew (and its slots would stop counting
    at the old end). Add-ons already ended or removed keep their dates: they renew no more.
    Mailboxes scheduled for the old renewal wait for the new subscription's billing date
    instead (the rules are checked again when they are created, as for any scheduled row).
    """
    now = clock.now()
    session.execute(
        update(AddonSlots)
        .where(AddonSlots.subscription_id == old.id)
        .values(subscription_id=new.id)
    )
    session.execute(
        update(AddonSlots)
        .where(
            AddonSlots.subscription_id == new.id,
            AddonSlots.removed_at.is_(None),
            AddonSlots.period_end > now,
        )
        .values(period_end=new.current_period_end)
    )
    session.execute(
        update(ScheduledMailbox)
        .where(
            ScheduledMailbox.subscription_id == old.id,
            ScheduledMailbox.status == ScheduledMailboxStatus.SCHEDULED,
        )
        .values(subscription_id=new.id, scheduled_for=new.current_period_end, updated_at=now)
    )


def upgrade(
    session: Session,
    workspace_id: uuid.UUID,
    reference: str,
    lookup_key: str,
    *,
    default_currency: str,
    actor: str,
) -> Subscription:
    old = service.find(session, workspace_id, reference, for_update=True)
    plan, quote = quote_upgrade(session, old, lookup_key, default_currency)
    if quote.errors:
        raise quote.errors[0]
    now = clock.now()
    new = service.open_subscription(
        session,
        workspace_id,
        plan,
        kind=LedgerKind.UPGRADE,
        lines=quote.lines,
        actor=actor,
        now=now,
        reason=f"Change from {old.lookup_key} to {plan.lookup_key}",
    )
    new.notes = old.notes
    _carry_over(session, old, new)
    old.replaced_by_id = new.id
    transitions.move(
        session,
        old,
        transitions.S.EXPIRED,
        actor=actor,
        reason=f"replaced by {new.public_id} ({plan.lookup_key})",
        now=now,
        replaced_by=new.public_id,
    )
    service.record(
        session,
        EventType.SUBSCRIPTION_UPGRADED,
        new,
        actor,
        replaces=old.public_id,
        previous_plan=old.lookup_key,
    )
    return new
