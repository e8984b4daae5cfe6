"""Renewals with a controlled clock over whole periods, through the real worker path: the
sweep claims due subscriptions, the job renews them (tests/support/jobs.drain runs it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.billing import slots
from mailfleet.billing.plans import service as plan_service
from mailfleet.billing.renewals import service as renewals
from mailfleet.billing.renewals import tasks as renewal_tasks
from mailfleet.billing.subscriptions import service as subscription_service
from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import (
    AddonSlots,
    Event,
    Invoice,
    LedgerKind,
    Mailbox,
    MailboxStatus,
    MailboxType,
    Subscription,
    SubscriptionPeriod,
    SubscriptionStatus,
    Wallet,
    WalletEntry,
)
from tests.factories import (
    Caller,
    fund_wallet,
    give_slots,
    make_addon,
    make_domain,
    make_mailbox,
    make_plan,
    make_subscription,
    make_tenant,
    order_body,
)
from tests.support.jobs import drain, runtime_of

PRICE, ADDON = 10_000, 500


def tick(client: TestClient, seconds: float = 0) -> None:
    """Let time pass, then do what the worker does: sweep and run what is due."""
    clock.advance(seconds)
    runtime = runtime_of(client)
    sweep(runtime)
    drain(runtime)


def load(db: Database, subscription_id: uuid.UUID) -> Subscription:
    with db.transaction(write=False) as session:
        subscription = session.get_one(Subscription, subscription_id)
        session.expunge(subscription)
        return subscription


def balance(db: Database, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        return int(
            session.scalar(select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id))
            or 0
        )


def count(db: Database, statement: object) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(statement) or 0)  # type: ignore[call-overload]


def periods_of(db: Database, subscription_id: uuid.UUID) -> int:
    return count(
        db,
        select(func.count())
        .select_from(SubscriptionPeriod)
        .where(SubscriptionPeriod.subscription_id == subscription_id),
    )


def renewal_entries(db: Database, workspace_id: uuid.UUID) -> int:
    return count(
        db,
        select(func.count())
        .select_from(WalletEntry)
        .where(WalletEntry.workspace_id == workspace_id, WalletEntry.kind == LedgerKind.RENEWAL),
    )


def until_end(db: Database, subscription_id: uuid.UUID) -> float:
    """Seconds from now to the subscription's period end."""
    end = load(db, subscription_id).current_period_end
    return (end.replace(tzinfo=clock.now().tzinfo) - clock.now()).total_seconds()


@pytest.fixture
def tenant(db: Database) -> Caller:
    return make_tenant(db)


@pytest.fixture
def bought(db: Database, tenant: Caller) -> uuid.UUID:
    """A monthly GOOGLE plan of 10 slots at 100.00, bought now (the wallet paid exactly)."""
    key = make_plan(db, slots=10, price_cents=PRICE, addon_price_cents=ADDON)
    return make_subscription(db, tenant.workspace_id, key)


def aware(value: datetime) -> datetime:
    return value.replace(tzinfo=clock.now().tzinfo)


def test_a_due_subscription_renews_once_with_its_add_ons(
    client: TestClient, db: Database, tenant: Caller, bought: uuid.UUID
) -> None:
    make_addon(db, bought, quantity=2)
    make_addon(db, bought, quantity=3, renew=False)
    fund_wallet(db, tenant.workspace_id, 20_000)
    before = load(db, bought)
    tick(client, until_end(db, bought) - 60)
    assert renewal_entries(db, tenant.workspace_id) == 0  # not due a minute early

    tick(client, 61)
    after = load(db, bought)
    assert after.status == SubscriptionStatus.ACTIVE
    assert aware(after.current_period_start) == aware(before.current_period_end)
    assert aware(after.renews_at or before.created_at) == aware(after.current_period_end)
    assert (after.current_period_end - after.current_period_start).days in (28, 29, 30, 31)
    # The plan for the whole period and the renewing add-on at unit price x quantity.
    assert balance(db, tenant.workspace_id) == 20_000 - PRICE - 2 * ADDON
    assert periods_of(db, bought) == 2
    with db.transaction(write=False) as session:
        addons = session.scalars(select(AddonSlots).where(AddonSlots.subscription_id == bought))
        moved = {a.quantity: aware(a.period_end) for a in addons}
        invoice = session.scalars(
            select(Invoice).where(
                Invoice.subscription_id == bought, Invoice.kind == LedgerKind.RENEWAL
            )
        ).one()
    assert moved[2] == aware(after.current_period_end)
    assert moved[3] == aware(before.current_period_end)  # not renewed: its slots end
    assert invoice.total_cents == PRICE + 2 * ADDON
    assert [line["quantity"] for line in invoice.lines] == [1, 2]

    # Running again (the sweep, the job by hand) charges nothing more.
    tick(client, 3600)
    assert renewal_tasks.renew_one(runtime_of(client), bought).status == "not_due"
    assert renewal_entries(db, tenant.workspace_id) == 1
    assert periods_of(db, bought) == 2


def test_whole_periods_renew_one_after_another(
    client: TestClient, db: Database, tenant: Caller, bought: uuid.UUID
) -> None:
    fund_wallet(db, tenant.workspace_id, 3 * PRICE)
    for renewed in range(1, 4):
        tick(client, until_end(db, bought))
        assert periods_of(db, bought) == 1 + renewed
    assert balance(db, tenant.workspace_id) == 0
    assert load(db, bought).status == SubscriptionStatus.ACTIVE


def test_a_changed_plan_takes_effect_at_renewal(
    client: TestClient, db: Database, tenant: Caller
) -> None:
    key = make_plan(db, slots=10, price_cents=PRICE)
    subscription_id = make_subscription(db, tenant.workspace_id, key)
    with db.transaction() as session:
        plan_service.change(session, key, {"price_cents": 12_000, "slots": 12}, actor="test")
    assert load(db, subscription_id).price_cents == PRICE  # kept until renewal
    fund_wallet(db, tenant.workspace_id, 12_000)
    tick(client, until_end(db, subscription_id))
    renewed = load(db, subscription_id)
    assert (renewed.price_cents, renewed.slots) == (12_000, 12)
    assert balance(db, tenant.workspace_id) == 0


def test_cancellation_at_period_end_charges_nothing(
    client: TestClient, db: Database, tenant: Caller, bought: uuid.UUID
) -> None:
    fund_wallet(db, tenant.workspace_id, PRICE)
    with db.transaction() as session:
        subscription_service.cancel(
            session, tenant.workspace_id, str(bought), revert=False, actor="test"
        )
    tick(client, until_end(db, bought))
    cancelled = load(db, bought)
    assert cancelled.status == SubscriptionStatus.CANCELLED
    assert cancelled.renews_at is None
    assert balance(db, tenant.workspace_id) == PRICE
    assert periods_of(db, bought) == 1
    with db.transaction(write=False) as session:
        usage = slots.usage(session, tenant.workspace_id)
    assert usage[MailboxType.GOOGLE].allocated == 0


def test_a_short_wallet_is_past_due_and_a_retry_in_the_grace_period_pays(
    make_client: Callable[..., TestClient], db: Database, tenant: Caller, bought: uuid.UUID
) -> None:
    client = make_client(renewal_retry_hours=12, renewal_grace_days=3)
    fund_wallet(db, tenant.workspace_id, PRICE - 1)
    tick(client, until_end(db, bought))
    past_due = load(db, bought)
    assert past_due.status == SubscriptionStatus.PAST_DUE
    assert "0.01 USD more" in (past_due.payment_failure_message or "")
    assert past_due.renewal_attempts == 1
    assert past_due.renews_at is not None
    assert past_due.past_due_since is not None
    assert aware(past_due.renews_at) == aware(past_due.past_due_since) + timedelta(hours=12)
    # Its slots still count while it is past due.
    with db.transaction(write=False) as session:
        assert slots.usage(session, tenant.workspace_id)[MailboxType.GOOGLE].allocated == 10

    tick(client, 12 * 3600)
    assert load(db, bought).renewal_attempts == 2
    fund_wallet(db, tenant.workspace_id, 1)
    tick(client, 12 * 3600)
    paid = load(db, bought)
    assert paid.status == SubscriptionStatus.ACTIVE
    assert paid.payment_failure_message is None
    assert paid.renewal_attempts == 0
    # The paid period is the one that was due, not one starting at the retry.
    assert aware(paid.current_period_start) == aware(past_due.current_period_end)
    assert balance(db, tenant.workspace_id) == 0
    assert periods_of(db, bought) == 2


def test_expiry_after_the_grace_period_suspends_the_mailboxes_it_held(
    make_client: Callable[..., TestClient], db: Database, tenant: Caller, bought: uuid.UUID
) -> None:
    client = make_client(renewal_retry_hours=24, renewal_grace_days=3, expired_deprovision_days=7)
    domain = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    held = [make_mailbox(db, domain) for _ in range(3)]
    # A grant of 1 slot stays: only the newest two mailboxes were held by the subscription.
    give_slots(db, tenant.workspace_id, MailboxType.GOOGLE, 1)
    tick(client, until_end(db, bought))
    assert load(db, bought).status == SubscriptionStatus.PAST_DUE
    for _ in range(2):
        tick(client, 24 * 3600)
        assert load(db, bought).status == SubscriptionStatus.PAST_DUE
    tick(client, 24 * 3600)
    expired = load(db, bought)
    assert expired.status == SubscriptionStatus.EXPIRED
    assert expired.renews_at is None
    with db.transaction(write=False) as session:
        usage = slots.usage(session, tenant.workspace_id)[MailboxType.GOOGLE]
        statuses = {m.id: m.status for m in session.scalars(select(Mailbox))}
        suspended_events = session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "mailbox.suspend_requested")
        )
    assert usage.allocated == 1
    assert [statuses[i] for i in held] == [
        MailboxStatus.ACTIVE,
        MailboxStatus.SUSPENDED,
        MailboxStatus.SUSPENDED,
    ]
    assert suspended_events == 2
    # New orders are refused: the slots are gone.
    other = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    response = client.post(
        "/v1/mailbox-orders", json=order_body(other, ["late"]), headers=tenant.headers
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "quota_exceeded"
    assert renewal_entries(db, tenant.workspace_id) == 0

    # After the second grace period the suspended mailboxes are deprovisioned.
    tick(client, 6 * 24 * 3600)
    with db.transaction(write=False) as session:
        assert session.get_one(Mailbox, held[2]).status == MailboxStatus.SUSPENDED
    tick(client, 24 * 3600)
    with db.transaction(write=False) as session:
        statuses = {m.id: m.status for m in session.scalars(select(Mailbox))}
        usage = slots.usage(session, tenant.workspace_id)[MailboxType.GOOGLE]
    assert [statuses[i] for i in held] == [
        MailboxStatus.ACTIVE,
        MailboxStatus.REMOVED,
        MailboxStatus.REMOVED,
    ]
    assert usage.used == 1


def test_a_renewal_killed_mid_run_charges_once_when_rerun(
    client: TestClient,
    db: Database,
    tenant: Caller,
    bought: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fund_wallet(db, tenant.workspace_id, 2 * PRICE)
    runtime = runtime_of(client)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("killed after the charge")

    monkeypatch.setattr(renewals.mailboxes, "at_renewal", crash)
    clock.advance(until_end(db, bought))
    with pytest.raises(RuntimeError):
        renewal_tasks.renew_one(runtime, bought)
    assert balance(db, tenant.workspace_id) == 2 * PRICE
    assert periods_of(db, bought) == 1
    monkeypatch.undo()

    # The job died holding a claim: once its lease runs out the sweep hands it out again.
    with db.transaction() as session:
        assert renewals.claim_due(session, runtime.settings, clock.now(), limit=10) == [bought]
    tick(client, runtime.settings.job_lease_seconds + 1)
    assert balance(db, tenant.workspace_id) == PRICE
    assert periods_of(db, bought) == 2
    assert renewal_entries(db, tenant.workspace_id) == 1


def test_a_rerun_of_a_paid_period_finds_its_charge_and_period(
    client: TestClient, db: Database, tenant: Caller, bought: uuid.UUID
) -> None:
    fund_wallet(db, tenant.workspace_id, 2 * PRICE)
    before = load(db, bought)
    tick(client, until_end(db, bought))
    # As if the subscription's own dates had been lost after the charge committed.
    with db.transaction() as session:
        subscription = session.get_one(Subscription, bought)
        subscription.current_period_start = before.current_period_start
        subscription.current_period_end = before.current_period_end
    with db.transaction() as session:
        outcome = renewals.renew(session, runtime_of(client).settings, bought, clock.now())
    assert outcome.status == "already_renewed"
    assert balance(db, tenant.workspace_id) == PRICE
    assert periods_of(db, bought) == 2
    assert aware(load(db, bought).current_period_start) == aware(before.current_period_end)


def test_a_chunk_killed_mid_run_charges_once_when_rerun(
    client: TestClient,
    db: Database,
    tenant: Caller,
    bought: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fund_wallet(db, tenant.workspace_id, 2 * PRICE)
    runtime = runtime_of(client)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("killed after the charge")

    # Both paths (the chunk and the one-by-one fallback) die after charging.
    monkeypatch.setattr(renewals.mailboxes, "at_renewal_many", crash)
    tick(client, until_end(db, bought))
    assert balance(db, tenant.workspace_id) == 2 * PRICE
    assert periods_of(db, bought) == 1
    monkeypatch.undo()

    tick(client, runtime.settings.job_lease_seconds + 1)
    assert balance(db, tenant.workspace_id) == PRICE
    assert periods_of(db, bought) == 2
    assert renewal_entries(db, tenant.workspace_id) == 1


def test_one_chunk_renews_pays_fails_and_cancels_each_as_its_own(
    client: TestClient, db: Database
) -> None:
    key = make_plan(db, slots=10, price_cents=PRICE)
    paying, short, leaving = (make_tenant(db) for _ in range(3))
    subscriptions = {
        c.workspace_id: make_subscription(db, c.workspace_id, key) for c in (paying, short, leaving)
    }
    fund_wallet(db, paying.workspace_id, PRICE)
    fund_wallet(db, leaving.workspace_id, PRICE)
    with db.transaction() as session:
        subscription_service.cancel(
            session, leaving.workspace_id, str(subscriptions[leaving.workspace_id]), revert=False,
            actor="test",
        )  # fmt: skip
    tick(client, max(until_end(db, s) for s in subscriptions.values()))
    statuses = {ws: load(db, sub).status for ws, sub in subscriptions.items()}
    assert statuses == {
        paying.workspace_id: SubscriptionStatus.ACTIVE,
        short.workspace_id: SubscriptionStatus.PAST_DUE,
        leaving.workspace_id: SubscriptionStatus.CANCELLED,
    }
    assert [balance(db, c.workspace_id) for c in (paying, short, leaving)] == [0, 0, PRICE]
    assert [periods_of(db, s) for s in subscriptions.values()] == [2, 1, 1]
    with db.transaction(write=False) as session:
        events = session.scalars(
            select(Event.type).where(Event.subject_id == subscriptions[paying.workspace_id])
        ).all()
    assert "subscription.renewed" in events
