"""Subscriptions: purchase a plan from the wallet, find, list, annotate, cancel at period end
(and revert that). Upgrades and add-on slots are in `upgrades` and `addons`. The caller commits.

A purchase is paid from the wallet only (`billing.charges.charge`: one debit and one invoice);
topping up first (auto-recharge) is the endpoint's step, outside the write transaction.
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailfleet.billing import charges
from mailfleet.billing.invoices.service import Line
from mailfleet.billing.periods import days_in, period_end
from mailfleet.billing.plans import service as plans
from mailfleet.billing.subscriptions import transitions
from mailfleet.billing.subscriptions.errors import (
    CancellationNotScheduled,
    CancellationScheduled,
    SubscriptionNotFound,
)
from mailfleet.billing.subscriptions.quotes import Quote, purse_of
from mailfleet.db import insert_ignoring_duplicates
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import MailfleetError
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.kit.pagination import contains_pattern, paginate, split_page
from mailfleet.models import (
    Allocation,
    LedgerKind,
    MailboxType,
    Plan,
    Subscription,
    SubscriptionPeriod,
    SubscriptionStatus,
)

PUBLIC_PREFIX = "sub_"
_BASE62 = string.digits + string.ascii_letters


def new_public_id() -> str:
    """Stripe-style: "sub_" and 24 base62 characters (143 bits of randomness)."""
    return PUBLIC_PREFIX + "".join(secrets.choice(_BASE62) for _ in range(24))


def plan_line(plan: Plan, start: datetime, end: datetime) -> Line:
    days = days_in(start, end)
    return Line(
        f"{plan.name}: {plan.slots} slots, {days} days",
        1,
        plan.price_cents,
        plan.price_cents,
        start,
        end,
    )


def quote_purchase(
    session: Session, workspace_id: uuid.UUID, lookup_key: str, default_currency: str
) -> tuple[Plan, Quote]:
    """The plan (404 when unknown) and what buying it now would cost and who would refuse."""
    purse = purse_of(session, workspace_id, default_currency)
    plan = plans.current(session, lookup_key)
    now = clock.now()
    errors: list[MailfleetError] = []
    try:
        plans.purchasable(session, lookup_key, purse.currency)
    except MailfleetError as refused:
        errors.append(refused)
    return plan, Quote([plan_line(plan, now, period_end(now, plan.period))], purse, errors)


def open_subscription(
    session: Session,
    workspace_id: uuid.UUID,
    plan: Plan,
    *,
    kind: LedgerKind,
    lines: list[Line],
    actor: str,
    now: datetime,
    reason: str,
) -> Subscription:
    """Create the subscription, charge `lines` and record its first period."""
    end = period_end(now, plan.period)
    # It starts ACTIVE (the model's default); every later status goes through transitions.move.
    subscription = Subscription(
        id=uuid7(),
        workspace_id=workspace_id,
        public_id=new_public_id(),
        plan_id=plan.id,
        lookup_key=plan.lookup_key,
        period=plan.period,
        mailbox_types=list(plan.mailbox_types),
        slots=plan.slots,
        price_cents=plan.price_cents,
        addon_price_cents=plan.addon_price_cents,
        currency=plan.currency,
        current_period_start=now,
        current_period_end=end,
        # The renewal timer (billing.renewals) fires at the period end.
        renews_at=end,
        created_by=actor,
        # The anchor of the period arithmetic (billing.periods): the first period's start.
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    session.flush()
    charged = charges.charge(
        session,
        workspace_id,
        kind=kind,
        lines=lines,
        reason=reason,
        actor=actor,
        subscription_id=subscription.id,
        dedupe_key=f"subscription:{subscription.id}:{now.isoformat()}",
    )
    session.add(
        SubscriptionPeriod(
            workspace_id=workspace_id,
            subscription_id=subscription.id,
            plan_id=plan.id,
            period_start=now,
            period_end=end,
            slots=plan.slots,
            amount_cents=plan.price_cents,
            wallet_entry_id=charged.movement.entry_id if charged.movement else None,
            invoice_id=charged.invoice.id,
        )
    )
    _ensure_allocation_rows(session, workspace_id, plan.mailbox_types)
    session.flush()
    return subscription


def _ensure_allocation_rows(session: Session, workspace_id: uuid.UUID, types: list[str]) -> None:
    # Orders lock the type's allocation row to serialise the quota check; a workspace that
    # only buys slots needs the row too (with a grant of 0), or nothing would be locked.
    insert_ignoring_duplicates(
        session,
        Allocation,
        [{"workspace_id": workspace_id, "mailbox_type": t, "slots": 0} for t in types],
        unique=["workspace_id", "mailbox_type"],
    )


def purchase(
    session: Session,
    workspace_id: uuid.UUID,
    lookup_key: str,
    *,
    default_currency: str,
    actor: str,
) -> Subscription:
    plan, quote = quote_purchase(session, workspace_id, lookup_key, default_currency)
    if quote.errors:
        raise quote.errors[0]
    subscription = open_subscription(
        session,
        workspace_id,
        plan,
        kind=LedgerKind.PURCHASE,
        lines=quote.lines,
        actor=actor,
        now=clock.now(),
        reason=f"Purchase of {plan.lookup_key}",
    )
    _record(session, EventType.SUBSCRIPTION_CREATED, subscription, actor, plan=plan.lookup_key)
    return subscription


def find(
    session: Session, workspace_id: uuid.UUID, reference: str, *, for_update: bool = False
) -> Subscription:
    """By UUID or by "sub_..." id, in the workspace only."""
    statement = select(Subscription).where(Subscription.workspace_id == workspace_id)
    if reference.startswith(PUBLIC_PREFIX):
        statement = statement.where(Subscription.public_id == reference)
    else:
        try:
            statement = statement.where(Subscription.id == uuid.UUID(reference))
        except ValueError:
            raise SubscriptionNotFound(f"Subscription {reference} not found.") from None
    if for_update:
        statement = statement.with_for_update()
    found = session.scalars(statement).first()
    if found is None:
        raise SubscriptionNotFound(f"Subscription {reference} not found.")
    return found


def list_subscriptions(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    statuses: Sequence[SubscriptionStatus] | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Subscription], str | None]:
    """Newest first; `q` searches the lookup key, the plan's name, the notes and the sub_ id."""
    statement = select(Subscription).where(Subscription.workspace_id == workspace_id)
    if statuses:
        statement = statement.where(Subscription.status.in_(statuses))
    if q and q.strip():
        pattern = contains_pattern(q)
        names = select(Plan.id).where(Plan.name.ilike(pattern, escape="\\"))
        statement = statement.where(
            or_(
                Subscription.lookup_key.ilike(pattern, escape="\\"),
                Subscription.notes.ilike(pattern, escape="\\"),
                Subscription.public_id.ilike(pattern, escape="\\"),
                Subscription.plan_id.in_(names),
            )
        )
    rows = session.scalars(paginate(statement, Subscription.id, cursor, limit)).all()
    return split_page(rows, limit, lambda s: s.id)


def current_plan(session: Session, workspace_id: uuid.UUID) -> tuple[str, datetime] | None:
    """The plan name and period end of the newest subscription holding slots now."""
    row = session.execute(
        select(Plan.name, Subscription.current_period_end)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.workspace_id == workspace_id,
            Subscription.status.in_(sorted(transitions.HOLDING_SLOTS)),
        )
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def newest_holding(
    session: Session, workspace_id: uuid.UUID, mailbox_type: MailboxType | None = None
) -> Subscription | None:
    """The newest subscription holding slots now, covering `mailbox_type` when one is named."""
    rows = session.scalars(
        select(Subscription)
        .where(
            Subscription.workspace_id == workspace_id,
            Subscription.status.in_(sorted(transitions.HOLDING_SLOTS)),
        )
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())
    )
    for subscription in rows:
        if mailbox_type is None or mailbox_type.value in subscription.mailbox_types:
            return subscription
    return None


def set_notes(
    session: Session, workspace_id: uuid.UUID, reference: str, notes: str | None, *, actor: str
) -> Subscription:
    subscription = find(session, workspace_id, reference, for_update=True)
    if subscription.notes != notes:
        subscription.notes = notes
        session.flush()
        _record(session, EventType.SUBSCRIPTION_NOTES_UPDATED, subscription, actor)
    return subscription


def cancel(
    session: Session, workspace_id: uuid.UUID, reference: str, *, revert: bool, actor: str
) -> Subscription:
    """Cancel at the period end, or revert that (Zapmail's one call with revertCancellation).

    The subscription stays ACTIVE (or PAST_DUE) with its slots until its period ends; the
    renewal run moves it to CANCELLED then instead of charging.
    """
    subscription = find(session, workspace_id, reference, for_update=True)
    if subscription.status not in transitions.HOLDING_SLOTS:
        raise transitions.SubscriptionStatusConflict(
            f"A {subscription.status.value} subscription cannot be cancelled or reverted."
        )
    if revert and not subscription.cancel_at_period_end:
        raise CancellationNotScheduled("No cancellation is scheduled for this subscription.")
    if not revert and subscription.cancel_at_period_end:
        raise CancellationScheduled(
            "This subscription is cancelled already; it ends at "
            f"{subscription.current_period_end.isoformat()}."
        )
    subscription.cancel_at_period_end = not revert
    session.flush()
    kind = (
        EventType.SUBSCRIPTION_CANCELLATION_REVERTED
        if revert
        else EventType.SUBSCRIPTION_CANCELLATION_SCHEDULED
    )
    _record(session, kind, subscription, actor, ends_at=subscription.current_period_end)
    return subscription


def _record(
    session: Session, type: EventType, subscription: Subscription, actor: str, **data: Any
) -> None:
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    events.record(
        session,
        workspace_id=subscription.workspace_id,
        type=type,
        subject_type="subscription",
        subject_id=subscription.id,
        actor=actor,
        subscription=subscription.public_id,
        lookup_key=subscription.lookup_key,
        **data,
    )


record = _record
