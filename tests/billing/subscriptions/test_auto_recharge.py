"""A purchase with a short wallet and auto-recharge on: the saved card is charged first (outside
the write transaction), then the purchase is paid; a declined card leaves a 402."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import LedgerKind, Subscription, WalletEntry
from tests.billing.payments.conftest import save_card, wallet_of
from tests.factories import Caller, count_rows, seed_plans
from tests.support.fake_stripe import FakeStripe

STARTER = "google_starter_monthly"


def test_a_short_purchase_recharges_then_pays(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    seed_plans(db)
    save_card(stripe_client, stripe_fake, tenant)
    response = stripe_client.post(
        "/v1/subscriptions", json={"lookup_key": STARTER}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    # The recharge amount (50 USD by default) covers the 39 USD shortfall.
    assert wallet_of(db, tenant.workspace_id).balance_cents == 5000 - 3900
    with db.transaction(write=False) as session:
        kinds = sorted(e.kind.value for e in session.query(WalletEntry).all())
    assert kinds == [LedgerKind.PURCHASE.value, LedgerKind.TOPUP.value]


def test_a_declined_recharge_leaves_the_purchase_refused(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    seed_plans(db)
    save_card(stripe_client, stripe_fake, tenant, method="pm_card_chargeDeclined")
    response = stripe_client.post(
        "/v1/subscriptions", json={"lookup_key": STARTER}, headers=tenant.headers
    )
    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_funds"
    assert "declined" in response.json()["detail"]
    assert count_rows(db, Subscription) == 0
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0
