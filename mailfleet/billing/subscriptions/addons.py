"""Add-on slots: N extra slots of a type on a subscription, charged at its add-on price for
the days left in the current period (kind ADDON), renewed with it unless removed. Removing
stops the renewal only: the slots were paid and last until the period end. The caller commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.billing import charges
from mailfleet.billing.invoices.service import Line
from mailfleet.billing.periods import days_in, prorate, remaining_days
from mailfleet.billing.subscriptions import service, transitions
from mailfleet.billing.subscriptions.errors import (
    AddonNotFound,
    AddonTypeNotCovered,
    SubscriptionNotActive,
)
from mailfleet.billing.subscriptions.quotes import Quote, purse_of
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import MailfleetError
from mailfleet.kit import clock
from mailfleet.models import AddonSlots, LedgerKind, MailboxType, Subscription


def addon_line(
    subscription: Subscription, mailbox_type: MailboxType, quantity: int, now: datetime
) -> Line:
    start, end = subscription.current_period_start, subscription.current_period_end
    unit = subscription.addon_price_cents
    left, total = remaining_days(now, start, end), days_in(start, end)
    return Line(
        f"{quantity} add-on {mailbox_type.value} slot(s), {left} of {total} days",
        quantity,
        unit,
        prorate(unit * quantity, now, start, end),
        now,
        end,
    )


def quote_addon(
    session: Session,
    subscription: Subscription,
    mailbox_type: MailboxType,
    quantity: int,
    default_currency: str,
) -> Quote:
    purse = purse_of(session, subscription.workspace_id, default_currency)
    errors: list[MailfleetError] = []
    if subscription.status != transitions.S.ACTIVE:
        errors.append(
            SubscriptionNotActive(
                f"Add-on slots are bought on ACTIVE subscriptions; this one is "
                f"{subscription.status.value}."
            )
        )
    if mailbox_type.value not in subscription.mailbox_types:
        errors.append(
            AddonTypeNotCovered(
                f"{subscription.lookup_key} covers {', '.join(subscription.mailbox_types)}, "
                f"not {mailbox_type.value}.",
                field="mailbox_type",
            )
        )
    return Quote([addon_line(subscription, mailbox_type, quantity, clock.now())], purse, errors)


def add(
    session: Session,
    workspace_id: uuid.UUID,
    reference: str,
    mailbox_type: MailboxType,
    quantity: int,
    *,
    default_currency: str,
    actor: str,
) -> AddonSlots:
    subscription = service.find(session, workspace_id, reference, for_update=True)
    quote = quote_addon(session, subscription, mailbox_type, quantity, default_currency)
    if quote.errors:
        raise quote.errors[0]
    addon = AddonSlots(
        workspace_id=workspace_id,
        subscription_id=subscription.id,
        mailbox_type=mailbox_type,
        quantity=quantity,
        unit_price_cents=subscription.addon_price_cents,
        period_start=subscription.current_period_start,
        period_end=subscription.current_period_end,
    )
    session.add(addon)
    session.flush()
    charges.charge(
        session,
        workspace_id,
        kind=LedgerKind.ADDON,
        lines=quote.lines,
        reason=f"{quantity} add-on {mailbox_type.value} slot(s) on {subscription.public_id}",
        actor=actor,
        subscription_id=subscription.id,
        dedupe_key=f"addon:{addon.id}",
    )
    _record(session, EventType.ADDON_SLOTS_ADDED, addon, subscription, actor)
    return addon


def list_for(session: Session, subscription: Subscription) -> list[AddonSlots]:
    return list(
        session.scalars(
            select(AddonSlots)
            .where(AddonSlots.subscription_id == subscription.id)
            .order_by(AddonSlots.id)
        )
    )


def remove(
    session: Session, workspace_id: uuid.UUID, reference: str, addon_id: uuid.UUID, *, actor: str
) -> AddonSlots:
    """Stop renewing the add-on; its slots last until the period end. Removing twice is a
    no-op."""
    subscription = service.find(session, workspace_id, reference, for_update=True)
    addon = session.scalars(
        select(AddonSlots).where(
            AddonSlots.id == addon_id, AddonSlots.subscription_id == subscription.id
        )
    ).first()
    if addon is None:
        raise AddonNotFound(f"Add-on {addon_id} not found on {reference}.")
    if addon.removed_at is None:
        addon.renew = False
        addon.removed_at = clock.now()
        session.flush()
        _record(session, EventType.ADDON_SLOTS_REMOVED, addon, subscription, actor)
    return addon


def _record(
    session: Session, type: EventType, addon: AddonSlots, subscription: Subscription, actor: str
) -> None:
    events.record(
        session,
        workspace_id=addon.workspace_id,
        type=type,
        subject_type="addon_slots",
        subject_id=addon.id,
        actor=actor,
        subscription=subscription.public_id,
        mailbox_type=addon.mailbox_type.value,
        quantity=addon.quantity,
        period_end=addon.period_end.isoformat(),
    )
