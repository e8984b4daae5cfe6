"""Renewing subscriptions: charge the next period, open it, or fall past due and expire.

One renewal is one transaction (the caller's): the charge (one debit and one invoice per
f"renewal:{id}:{period_start}"), the period row (unique per subscription and start), the
subscription's dates, its add-ons' periods and what happens to its mailboxes
(`renewals.mailboxes`, scheduled creations in `billing.scheduled`). A renewal killed half-way
leaves nothing; a renewal run twice finds the period paid (the key) or not due any more.

A renewal charges the plan's CURRENT version (a changed plan takes effect at renewal, still
when retired: retiring stops sales, not existing subscriptions) plus the add-ons that renew,
at their unit price for the whole period. A short wallet makes the subscription PAST_DUE with
the shortfall as its reason; it is retried every `renewal_retry_hours` until
`renewal_grace_days` after it first failed, then EXPIRED. Recharging a short wallet is the
caller's step (tasks.py), outside any transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.billing import charges, periods
from mailfleet.billing.errors import PaymentRequired
from mailfleet.billing.invoices.service import Line
from mailfleet.billing.plans import service as plans
from mailfleet.billing.renewals import mailboxes
from mailfleet.billing.scheduled import service as scheduled
from mailfleet.billing.subscriptions import transitions
from mailfleet.config import Settings
from mailfleet.db import insert_ignoring_duplicates
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.kit.ids import uuid7
from mailfleet.models import (
    AddonSlots,
    LedgerKind,
    Plan,
    Subscription,
    SubscriptionPeriod,
    SubscriptionStatus,
)

ACTOR = "system:renewals"
S = SubscriptionStatus
DUE = (S.ACTIVE, S.PAST_DUE)


def dedupe_key(subscription_id: uuid.UUID, period_start: datetime) -> str:
    return f"renewal:{subscription_id}:{period_start.isoformat()}"


def claim_due(
    session: Session, settings: Settings, now: datetime, *, limit: int
) -> list[uuid.UUID]:
    """Take up to `limit` due subscriptions for one job: their `renews_at` moves a lease ahead,
    so a job that dies leaves them due again when the lease runs out."""
    ids = list(
        session.scalars(
            select(Subscription.id)
            .where(Subscription.status.in_(DUE), Subscription.renews_at <= now)
            .order_by(Subscription.renews_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(Subscription)
            .where(Subscription.id.in_(ids))
            .values(renews_at=now + timedelta(seconds=settings.job_lease_seconds))
            .execution_options(synchronize_session=False)
        )
    return ids


@dataclass(frozen=True)
class Outcome:
    # "renewed", "already_renewed", "cancelled", "past_due", "expired" or "not_due"
    status: str
    subscription_id: uuid.UUID
    shortfall_cents: int = 0
    workspace_id: uuid.UUID | None = None


def renew(
    session: Session,
    settings: Settings,
    subscription_id: uuid.UUID,
    now: datetime,
    *,
    record_failure: bool = True,
) -> Outcome:
    """Renew one subscription whose period has ended (see the module docstring).

    With `record_failure=False` a short wallet raises PaymentRequired instead (the caller rolls
    back, recharges, and tries again with True)."""
    subscription = session.scalars(
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if subscription is None or subscription.status not in DUE:
        return Outcome("not_due", subscription_id)
    if subscription.current_period_end > now:
        # Claimed early (a lease over a renewal already done): due again at its period end.
        subscription.renews_at = subscription.current_period_end
        return Outcome("not_due", subscription_id)
    if subscription.cancel_at_period_end:
        return _cancel(session, subscription)
    try:
        return _charge_and_open(session, settings, subscription, now)
    except PaymentRequired as exc:
        if not record_failure:
            raise
        return _failed(session, settings, subscription, now, exc)


def _charge_and_open(
    session: Session, settings: Settings, subscription: Subscription, now: datetime
) -> Outcome:
    start = subscription.current_period_end
    end = periods.period_end(start, subscription.period, anchor_day=subscription.created_at.day)
    plan = plans.current(session, subscription.lookup_key)
    addons = renewing_addons(session, subscription)
    lines = renewal_lines(plan, addons, start, end)
    with session.begin_nested():
        # A savepoint: a short wallet must leave this transaction usable for PAST_DUE.
        charged = charges.charge(
            session,
            subscription.workspace_id,
            kind=LedgerKind.RENEWAL,
            lines=lines,
            reason=f"renewal of {subscription.public_id} for {start.date()} to {end.date()}",
            actor=ACTOR,
            subscription_id=subscription.id,
            dedupe_key=dedupe_key(subscription.id, start),
        )
    opened = _open_period(session, subscription, plan, start, end, charged)
    _move_forward(session, subscription, plan, addons, start, end, now)
    if not opened:
        return Outcome("already_renewed", subscription.id, workspace_id=subscription.workspace_id)
    mailboxes.at_renewal(session, subscription, start, end, actor=ACTOR)
    scheduled.create_due(session, settings, subscription, now, actor=ACTOR)
    events.record(
        session,
        workspace_id=subscription.workspace_id,
        type=EventType.SUBSCRIPTION_RENEWED,
        subject_type="subscription",
        subject_id=subscription.id,
        actor=ACTOR,
        subscription=subscription.public_id,
        period_start=start.isoformat(),
        period_end=end.isoformat(),
        amount_cents=sum(line.amount_cents for line in lines),
        invoice_id=str(charged.invoice.id),
    )
    return Outcome("renewed", subscription.id, workspace_id=subscription.workspace_id)


def renewing_addons(session: Session, subscription: Subscription) -> list[AddonSlots]:
    """The add-ons of the period that ends now and renew with it."""
    return list(
        session.scalars(
            select(AddonSlots)
            .where(
                AddonSlots.subscription_id == subscription.id,
                AddonSlots.renew.is_(True),
                AddonSlots.removed_at.is_(None),
                AddonSlots.period_end == subscription.current_period_end,
            )
            .order_by(AddonSlots.id)
        )
    )


def renewal_lines(
    plan: Plan, addons: list[AddonSlots], start: datetime, end: datetime
) -> list[Line]:
    lines = [Line(plan.name, 1, plan.price_cents, plan.price_cents, start, end)]
    for addon in addons:
        lines.append(
            Line(
                f"Add-on {addon.mailbox_type.value} slots",
                addon.quantity,
                addon.unit_price_cents,
                addon.quantity * addon.unit_price_cents,
                start,
                end,
            )
        )
    return lines


def _open_period(
    session: Session,
    subscription: Subscription,
    plan: Plan,
    start: datetime,
    end: datetime,
    charged: charges.Charge,
) -> bool:
    """Insert the period row once; False when it existed (a rerun of a paid renewal)."""
    exists = session.scalar(
        select(SubscriptionPeriod.id).where(
            SubscriptionPeriod.subscription_id == subscription.id,
            SubscriptionPeriod.period_start == start,
        )
    )
    if exists is not None:
        return False
    # The subscription's row lock orders renewals of one subscription; the unique key backs it.
    insert_ignoring_duplicates(
        session,
        SubscriptionPeriod,
        [
            {
                "id": uuid7(),
                "workspace_id": subscription.workspace_id,
                "subscription_id": subscription.id,
                "plan_id": plan.id,
                "period_start": start,
                "period_end": end,
                "slots": plan.slots,
                "amount_cents": charged.invoice.total_cents,
                "wallet_entry_id": charged.movement.entry_id if charged.movement else None,
                "invoice_id": charged.invoice.id,
                "created_at": start,
            }
        ],
        unique=["subscription_id", "period_start"],
    )
    return True


def _move_forward(
    session: Session,
    subscription: Subscription,
    plan: Plan,
    addons: list[AddonSlots],
    start: datetime,
    end: datetime,
    now: datetime,
) -> None:
    """The subscription takes the plan version it now pays for and its next dates."""
    if subscription.status == S.PAST_DUE:
        transitions.move(
            session, subscription, S.ACTIVE, actor=ACTOR, reason="renewal paid", now=now
        )
    subscription.plan_id = plan.id
    subscription.slots = plan.slots
    subscription.price_cents = plan.price_cents
    subscription.addon_price_cents = plan.addon_price_cents
    subscription.mailbox_types = list(plan.mailbox_types)
    subscription.current_period_start = start
    subscription.current_period_end = end
    subscription.renews_at = end
    subscription.renewal_attempts = 0
    for addon in addons:
        addon.period_start, addon.period_end = start, end
    session.flush()


def _cancel(session: Session, subscription: Subscription) -> Outcome:
    end = subscription.current_period_end
    transitions.move(
        session, subscription, S.CANCELLED, actor=ACTOR, reason="cancelled at period end", now=end
    )
    scheduled.skip_all(
        session, subscription.id, reason="the subscription was cancelled", actor=ACTOR
    )
    return Outcome("cancelled", subscription.id, workspace_id=subscription.workspace_id)


def _failed(
    session: Session,
    settings: Settings,
    subscription: Subscription,
    now: datetime,
    exc: PaymentRequired,
) -> Outcome:
    """PAST_DUE (first failure), a later retry, or EXPIRED once the grace period is over."""
    reason = exc.detail
    first_failure = subscription.past_due_since or now
    grace_end = first_failure + timedelta(days=settings.renewal_grace_days)
    if now >= grace_end:
        return expire(session, settings, subscription, now, reason=reason)
    if subscription.status == S.ACTIVE:
        transitions.move(session, subscription, S.PAST_DUE, actor=ACTOR, reason=reason, now=now)
    else:
        subscription.payment_failure_message = reason
    subscription.renewal_attempts += 1
    # Retry on the hour grid, and once more exactly when the grace period ends.
    subscription.renews_at = min(now + timedelta(hours=settings.renewal_retry_hours), grace_end)
    events.record(
        session,
        workspace_id=subscription.workspace_id,
        type=EventType.SUBSCRIPTION_RENEWAL_FAILED,
        subject_type="subscription",
        subject_id=subscription.id,
        actor=ACTOR,
        subscription=subscription.public_id,
        reason=reason,
        shortfall_cents=exc.shortfall_cents,
        attempts=subscription.renewal_attempts,
        next_attempt_at=subscription.renews_at.isoformat(),
        grace_ends_at=grace_end.isoformat(),
    )
    session.flush()
    return Outcome(
        "past_due",
        subscription.id,
        shortfall_cents=exc.shortfall_cents,
        workspace_id=subscription.workspace_id,
    )


def expire(
    session: Session, settings: Settings, subscription: Subscription, now: datetime, *, reason: str
) -> Outcome:
    """EXPIRED: its slots stop counting, the mailboxes they held are suspended and later
    deprovisioned, and its scheduled creations are skipped."""
    transitions.move(session, subscription, S.EXPIRED, actor=ACTOR, reason=reason, now=now)
    until = now + timedelta(days=settings.expired_deprovision_days)
    mailboxes.at_expiry(session, subscription, now, until=until, actor=ACTOR)
    scheduled.skip_all(session, subscription.id, reason=f"billing failed: {reason}", actor=ACTOR)
    return Outcome("expired", subscription.id, workspace_id=subscription.workspace_id)
