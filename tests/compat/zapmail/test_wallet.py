"""Zapmail's wallet endpoints: flat bodies, USD numbers, payment links from the Stripe fake,
the wallet credited only by the signed webhook; add-ons from the wallet, once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import AddonSlots, Role, WalletEntry
from tests.billing.payments.conftest import post_event
from tests.factories import fund_wallet, make_member, make_subscription, make_tenant, seed_plans
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe

API = "/zapmail/api"


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def stripe_client(make_client: Callable[..., TestClient], stripe_fake: FakeStripe) -> TestClient:
    return make_client(
        payments_provider="stripe",
        stripe_api_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_fake.base_url,
    )


def _balance(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"{API}/v2/wallet/balance", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_balance_is_flat_and_in_dollars(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    assert _balance(client, owner.zapmail_headers) == {
        "message": "Wallet balance fetched successfully",
        "walletBalance": 0,
        "autoRechargeEnabled": False,
        "autoRechargeDetails": {"amount": 50.0, "threshold": 20.0},
    }
    fund_wallet(db, owner.workspace_id, 12_345)
    assert _balance(client, owner.zapmail_headers)["walletBalance"] == 123.45


def test_add_balance_answers_a_checkout_link_and_credits_from_the_webhook(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe
) -> None:
    owner = make_tenant(db)

    response = stripe_client.post(
        f"{API}/v2/wallet/balance", json={"amount": 100.00}, headers=owner.zapmail_headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["message", "paymentLink"]
    assert body["message"] == "Checkout session created successfully"
    assert body["paymentLink"].startswith("https://checkout.stripe.com/")
    assert _balance(stripe_client, owner.zapmail_headers)["walletBalance"] == 0
    (session,) = stripe_fake.sessions.values()
    assert session["_params"]["line_items"][0]["price_data"]["unit_amount"] == "10000"
    paid = stripe_fake.complete(session["id"])
    assert (
        post_event(stripe_client, stripe_fake, "checkout.session.completed", paid).status_code
        == 200
    )
    assert _balance(stripe_client, owner.zapmail_headers)["walletBalance"] == 100.0


def test_without_a_payment_provider_add_balance_is_refused(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    refused = client.post(
        f"{API}/v2/wallet/balance", json={"amount": 10}, headers=owner.zapmail_headers
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "payments_not_configured"


def test_enable_auto_recharge_without_a_card_answers_a_link(
    db: Database, stripe_client: TestClient
) -> None:
    owner = make_tenant(db)

    on = stripe_client.post(
        f"{API}/v2/wallet/enable-auto-recharge",
        json={"enable": True, "threshold": 25, "minimumRechargeAmount": 60},
        headers=owner.zapmail_headers,
    )

    assert on.status_code == 200, on.text
    assert on.json()["message"] == "Add your payment method to enable auto-recharge"
    assert on.json()["paymentLink"].startswith("https://checkout.stripe.com/")
    details = _balance(stripe_client, owner.zapmail_headers)
    assert details["autoRechargeEnabled"] is False
    assert details["autoRechargeDetails"] == {"amount": 60.0, "threshold": 25.0}
    off = stripe_client.post(
        f"{API}/v2/wallet/enable-auto-recharge",
        json={"enable": False},
        headers=owner.zapmail_headers,
    )
    assert off.status_code == 200, off.text
    assert off.json()["autoRechargeEnabled"] is False


def _addons(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(AddonSlots)) or 0)


def _debits(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(WalletEntry)) or 0)


def test_buy_addon_mailboxes_from_the_wallet(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 100_000)
    subscription = make_subscription(db, owner.workspace_id)
    before = _balance(client, owner.zapmail_headers)["walletBalance"]
    entries = _debits(db)

    response = client.post(
        f"{API}/v2/wallet/buy-addon-mailboxes?quantity=3", headers=owner.zapmail_headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"].startswith(
        "Mailbox purchase is processed successfully and invoice is created."
    )
    assert "/v1/invoices/" in body["paymentLink"]
    assert body["paymentLink"] in body["message"]
    assert _addons(db) == 1
    assert _debits(db) == entries + 1
    assert _balance(client, owner.zapmail_headers)["walletBalance"] < before
    invoice = client.post(
        f"{API}/v2/payment/invoices",
        json={"subscriptionId": str(subscription)},
        headers=owner.zapmail_headers,
    )
    assert invoice.status_code == 200, invoice.text
    assert invoice.json()["data"]["invoiceUrl"] == body["paymentLink"]


def test_a_short_wallet_buys_no_addons(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    make_subscription(db, owner.workspace_id)  # funds exactly its price: the wallet is empty
    entries = _debits(db)

    refused = client.post(
        f"{API}/v2/wallet/buy-addon-mailboxes?quantity=3", headers=owner.zapmail_headers
    )

    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "insufficient_funds"
    assert _addons(db) == 0
    assert _debits(db) == entries


def test_a_viewer_reads_the_balance_but_buys_nothing(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    assert _balance(client, viewer.zapmail_headers)["walletBalance"] == 0
    refused = client.post(
        f"{API}/v2/wallet/buy-addon-mailboxes?quantity=1", headers=viewer.zapmail_headers
    )
    assert refused.status_code == 403
