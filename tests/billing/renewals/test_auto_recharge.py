"""A renewal whose wallet is short recharges the saved card first (stripe-python against the
local Stripe fake) and is charged once; a declined card leaves it PAST_DUE."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import (
    LedgerKind,
    Payment,
    PaymentPurpose,
    Subscription,
    SubscriptionStatus,
    WalletEntry,
)
from tests.billing.payments.conftest import save_card
from tests.factories import Caller, make_plan, make_subscription, make_tenant
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from tests.support.jobs import drain

PRICE = 10_000


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def client(make_client: Callable[..., TestClient], stripe_fake: FakeStripe) -> TestClient:
    settings: dict[str, Any] = {
        "payments_provider": "stripe",
        "stripe_api_key": API_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": stripe_fake.base_url,
    }
    return make_client(**settings)


@pytest.fixture
def tenant(db: Database) -> Caller:
    return make_tenant(db)


def renew_at_period_end(client: TestClient, db: Database, subscription_id: uuid.UUID) -> None:
    with db.transaction(write=False) as session:
        end = session.get_one(Subscription, subscription_id).current_period_end
    clock.advance((end.replace(tzinfo=clock.now().tzinfo) - clock.now()).total_seconds())
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    sweep(runtime)
    drain(runtime)


def entries(db: Database, workspace_id: uuid.UUID) -> list[tuple[LedgerKind, int]]:
    with db.transaction(write=False) as session:
        rows = session.scalars(
            select(WalletEntry)
            .where(WalletEntry.workspace_id == workspace_id)
            .order_by(WalletEntry.id)
        )
        return [(row.kind, row.amount_cents) for row in rows]


def status_of(db: Database, subscription_id: uuid.UUID) -> SubscriptionStatus:
    with db.transaction(write=False) as session:
        return session.get_one(Subscription, subscription_id).status


def test_a_short_wallet_is_recharged_and_the_renewal_charged_once(
    client: TestClient, db: Database, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    subscription_id = make_subscription(db, tenant.workspace_id, make_plan(db, price_cents=PRICE))
    save_card(client, stripe_fake, tenant, amount_cents=6000)
    renew_at_period_end(client, db, subscription_id)
    assert status_of(db, subscription_id) == SubscriptionStatus.ACTIVE
    # After the funded purchase: the recharge of the shortfall (more than the recharge
    # amount), the renewal, then the low-balance recharge the debit asked for.
    assert entries(db, tenant.workspace_id)[2:] == [
        (LedgerKind.TOPUP, PRICE),
        (LedgerKind.RENEWAL, -PRICE),
        (LedgerKind.TOPUP, 6000),
    ]
    with db.transaction(write=False) as session:
        recharges = session.scalars(
            select(Payment).where(Payment.purpose == PaymentPurpose.RECHARGE)
        ).all()
    assert [p.amount_cents for p in recharges] == [PRICE, 6000]


def test_a_declined_card_leaves_the_renewal_past_due(
    client: TestClient, db: Database, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    subscription_id = make_subscription(db, tenant.workspace_id, make_plan(db, price_cents=PRICE))
    save_card(client, stripe_fake, tenant, method="pm_card_chargeDeclined")
    renew_at_period_end(client, db, subscription_id)
    assert status_of(db, subscription_id) == SubscriptionStatus.PAST_DUE
    assert entries(db, tenant.workspace_id)[2:] == []
