"""Renewals in set-based chunks: what `service.renew` does, for many subscriptions at once.

A renewal run renews thousands of subscriptions due at the same hour; one transaction of some
thirty statements each is too slow for that. A chunk takes the plain cases (ACTIVE, not
cancelling, one per workspace in the chunk, the wallet holding the whole price, not charged
for the period yet) and renews them in one transaction of a few bulk statements: the wallets'
debits (`wallet.debit_many`: rows locked first, so a balance never goes below zero and
equals its ledger, under the same dedupe keys), their invoices (`invoices.issue_many`), the
periods (unique per subscription and start), the subscriptions' and add-ons' dates, the events
(one insert, `events.batched`), the mailboxes (`renewals.mailboxes.at_renewal_many`) and the
scheduled creations (one batch of orders, `scheduled.create_due_many`).
Everything else (a short wallet, a cancellation, a past-due retry, a rerun) is handed back for
`service.renew`, one by one. The dedupe keys and the period key keep either path once-only.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mailfleet.billing import charges
from mailfleet.billing.invoices import service as invoices
from mailfleet.billing.invoices.service import Line
from mailfleet.billing.periods import period_end
from mailfleet.billing.renewals import mailboxes
from mailfleet.billing.renewals.service import (
    ACTOR,
    dedupe_key,
    renewal_lines,
)
from mailfleet.billing.scheduled import service as scheduled
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.config import Settings
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
    Wallet,
)


@dataclass
class _Item:
    subscription: Subscription
    plan: Plan
    addons: list[AddonSlots]
    start: datetime
    end: datetime
    lines: list[Line]
    total: int
    wallet: Wallet
    balance_after: int = 0
    entry_id: uuid.UUID | None = None


def renew_chunk(
    session: Session, settings: Settings, ids: Sequence[uuid.UUID], now: datetime
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Renew the plain cases among `ids`; returns (renewed, left for `service.renew`)."""
    subscriptions = session.scalars(
        select(Subscription)
        .where(Subscription.id.in_(ids))
        .order_by(Subscription.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    plain, left = _split(subscriptions, now)
    found = {s.id for s in subscriptions}
    left += [i for i in ids if i not in found]  # gone: the one-by-one path says so
    # Nothing below opens a savepoint: the chunk's events can go in one insert at its end.
    with events.batched(session):
        items = _debited(session, _priced(session, plain, left), left)
        if not items:
            return [], left
        _open_periods(session, items, now)
        _record(session, items)
        for item in items:
            # The ask for a recharge after a debit under the threshold, as charges.charge does.
            if item.wallet.auto_recharge_enabled:
                charges.ask_recharge_if_low(session, item.wallet.workspace_id, item.balance_after)
        _mailboxes(session, items)
        _scheduled(session, settings, items, now)
    return [item.subscription.id for item in items], left


def _split(
    subscriptions: Sequence[Subscription], now: datetime
) -> tuple[list[Subscription], list[uuid.UUID]]:
    plain, left, workspaces = [], [], set()
    for subscription in subscriptions:
        due = subscription.current_period_end.replace(tzinfo=now.tzinfo) <= now
        if (
            due
            and subscription.status == SubscriptionStatus.ACTIVE
            and not subscription.cancel_at_period_end
            and subscription.workspace_id not in workspaces
        ):
            plain.append(subscription)
            workspaces.add(subscription.workspace_id)
        else:
            left.append(subscription.id)
    return plain, left


def _priced(session: Session, plain: list[Subscription], left: list[uuid.UUID]) -> list[_Item]:
    """Price each plain renewal; those the wallet cannot pay whole, or paid already, go left."""
    if not plain:
        return []
    plans = {
        plan.lookup_key: plan
        for plan in session.scalars(
            select(Plan).where(
                Plan.lookup_key.in_({s.lookup_key for s in plain}), Plan.superseded_at.is_(None)
            )
        )
    }
    by_subscription: dict[uuid.UUID, list[AddonSlots]] = defaultdict(list)
    for addon in session.scalars(
        select(AddonSlots)
        .where(
            AddonSlots.subscription_id.in_([s.id for s in plain]),
            AddonSlots.renew.is_(True),
            AddonSlots.removed_at.is_(None),
        )
        .order_by(AddonSlots.id)
    ):
        by_subscription[addon.subscription_id].append(addon)
    # Read here for their currency and auto-recharge; wallet.debit_many locks them.
    wallets = {
        wallet.workspace_id: wallet
        for wallet in session.scalars(
            select(Wallet).where(Wallet.workspace_id.in_([s.workspace_id for s in plain]))
        )
    }
    items = []
    for subscription in plain:
        plan, wallet = plans.get(subscription.lookup_key), wallets.get(subscription.workspace_id)
        start = subscription.current_period_end
        end = period_end(start, subscription.period, anchor_day=subscription.created_at.day)
        ending = [
            a for a in by_subscription[subscription.id]
            if a.period_end.replace(tzinfo=None) == start.replace(tzinfo=None)
        ]  # fmt: skip
        if plan is None or wallet is None:
            left.append(subscription.id)
            continue
        lines = renewal_lines(plan, ending, start, end)
        total = invoices.total_of(lines)
        if total <= 0 or wallet.currency != plan.currency:
            left.append(subscription.id)
            continue
        items.append(_Item(subscription, plan, ending, start, end, lines, total, wallet))
    return items


def _debited(session: Session, items: list[_Item], left: list[uuid.UUID]) -> list[_Item]:
    """The chunk's debits in one `wallet.debit_many`; a short wallet, or a period charged
    already (its dedupe key: a rerun), goes to the one-by-one path, which says which."""
    if not items:
        return []
    debits = [
        wallet_service.Debit(
            i.subscription.workspace_id,
            i.total,
            LedgerKind.RENEWAL,
            f"renewal of {i.subscription.public_id} for {i.start.date()} to {i.end.date()}",
            ACTOR,
            wallet_service.Reference("subscription", str(i.subscription.id)),
            dedupe_key(i.subscription.id, i.start),
            i.plan.currency,
        )
        for i in items
    ]
    debited = []
    for item, result in zip(items, wallet_service.debit_many(session, debits), strict=True):
        if isinstance(result, wallet_service.Movement) and result.applied:
            item.entry_id, item.balance_after = result.entry_id, result.balance_after_cents
            debited.append(item)
        else:
            left.append(item.subscription.id)
    return debited


def _open_periods(session: Session, items: list[_Item], now: datetime) -> None:
    drafts = [
        invoices.Draft(
            i.subscription.workspace_id,
            LedgerKind.RENEWAL,
            i.lines,
            i.wallet.currency,
            subscription_id=i.subscription.id,
            wallet_entry_id=i.entry_id,
        )
        for i in items
    ]
    invoice_ids = invoices.issue_many(session, drafts, actor=ACTOR)
    periods: list[dict[str, Any]] = []
    for item, invoice_id in zip(items, invoice_ids, strict=True):
        periods.append(
            {
                "id": uuid7(),
                "created_at": item.start,
                "workspace_id": item.subscription.workspace_id,
                "subscription_id": item.subscription.id,
                "plan_id": item.plan.id,
                "period_start": item.start,
                "period_end": item.end,
                "slots": item.plan.slots,
                "amount_cents": item.total,
                "wallet_entry_id": item.entry_id,
                "invoice_id": invoice_id,
            }
        )
    # A plain insert: no charge under the key means no period either (both are written in one
    # transaction); the unique key still stands behind it (a clash undoes the chunk, and the
    # one-by-one path then finds the period).
    session.execute(insert(cast(Table, SubscriptionPeriod.__table__)), periods)
    _move_forward(session, items, now)


def _move_forward(session: Session, items: list[_Item], now: datetime) -> None:
    """As service._move_forward, for ACTIVE subscriptions (no status change): one executemany
    UPDATE of the subscriptions and one of their add-ons (the unit of work's flush of the same
    changes was a tenth of a chunk). The loaded objects are given the values as committed, so
    the session holds what the rows hold and has nothing left to flush."""
    moved: list[tuple[Any, dict[str, Any]]] = []
    for item in items:
        plan = item.plan
        moved.append(
            (
                item.subscription,
                {
                    "plan_id": plan.id,
                    "slots": plan.slots,
                    "price_cents": plan.price_cents,
                    "addon_price_cents": plan.addon_price_cents,
                    "mailbox_types": list(plan.mailbox_types),
                    "current_period_start": item.start,
                    "current_period_end": item.end,
                    "renews_at": item.end,
                    "renewal_attempts": 0,
                    "updated_at": now,
                },
            )
        )
        moved += [(a, {"period_start": item.start, "period_end": item.end}) for a in item.addons]
    for model in (Subscription, AddonSlots):
        rows = [(obj, values) for obj, values in moved if isinstance(obj, model)]
        if rows:
            session.execute(update(model), [{"id": obj.id, **values} for obj, values in rows])
        for obj, values in rows:
            for key, value in values.items():
                set_committed_value(obj, key, value)


def _record(session: Session, items: list[_Item]) -> None:
    """subscription.renewed, as the one-by-one path records it (wallet.debited is the
    wallet's own, recorded by debit_many)."""
    events.record_all(
        session,
        (
            events.NewEvent(
                item.subscription.workspace_id,
                EventType.SUBSCRIPTION_RENEWED,
                "subscription",
                item.subscription.id,
                ACTOR,
                {
                    "subscription": item.subscription.public_id,
                    "period_start": item.start.isoformat(),
                    "period_end": item.end.isoformat(),
                    "amount_cents": item.total,
                },
            )
            for item in items
        ),
    )


def _mailboxes(session: Session, items: list[_Item]) -> None:
    """The mailbox steps, one set-based round per (types, period) shared by the chunk."""
    groups: dict[tuple[tuple[str, ...], datetime, datetime], list[uuid.UUID]] = defaultdict(list)
    for item in items:
        types = tuple(sorted(item.subscription.mailbox_types))
        groups[(types, item.start, item.end)].append(item.subscription.workspace_id)
    for (types, start, end), workspace_ids in groups.items():
        kinds = mailboxes.types_of_values(types)
        mailboxes.at_renewal_many(session, workspace_ids, kinds, start, end, actor=ACTOR)


def _scheduled(session: Session, settings: Settings, items: list[_Item], now: datetime) -> None:
    """The mailboxes scheduled for these renewals: one batch of orders for the chunk."""
    subscriptions = [item.subscription for item in items]
    scheduled.create_due_many(session, settings, subscriptions, now, actor=ACTOR)
