"""Saved cards: listed from Stripe for the wallet's customer, removed (detached) by an admin;
removing the default one leaves auto-recharge without a card."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Role
from tests.billing.payments.conftest import save_card, wallet_of
from tests.factories import Caller, make_member, make_tenant
from tests.support.fake_stripe import FakeStripe


def test_list_and_remove_saved_cards(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    assert stripe_client.get("/v1/wallet/payment-methods", headers=tenant.headers).json() == {
        "items": []
    }
    save_card(stripe_client, stripe_fake, tenant)
    customer = wallet_of(db, tenant.workspace_id).payment_customer_id
    assert customer is not None
    stripe_fake.attach(customer, "pm_card_mastercard")
    listed = stripe_client.get("/v1/wallet/payment-methods", headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    items = {item["id"]: item for item in listed.json()["items"]}
    assert items["pm_card_visa"] == {
        "id": "pm_card_visa",
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2034,
        "default": True,
    }
    assert items["pm_card_mastercard"]["default"] is False

    viewer = make_member(db, tenant, Role.VIEWER)
    refused = stripe_client.delete(
        "/v1/wallet/payment-methods/pm_card_visa", headers=viewer.headers
    )
    assert refused.status_code == 403
    removed = stripe_client.delete(
        "/v1/wallet/payment-methods/pm_card_visa", headers=tenant.headers
    )
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"id": "pm_card_visa", "deleted": True}
    assert stripe_fake.calls("POST", "/v1/payment_methods/pm_card_visa/detach")
    assert wallet_of(db, tenant.workspace_id).default_payment_method_id is None
    assert (
        stripe_client.get("/v1/wallet", headers=tenant.headers).json()["has_payment_method"]
        is False
    )
    remaining = stripe_client.get("/v1/wallet/payment-methods", headers=tenant.headers).json()
    assert [item["id"] for item in remaining["items"]] == ["pm_card_mastercard"]
    again = stripe_client.delete("/v1/wallet/payment-methods/pm_card_visa", headers=tenant.headers)
    assert again.status_code == 404
    assert again.json()["code"] == "payment_method_not_found"


def test_another_workspaces_card_is_not_found(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant)
    intruder = make_tenant(db)
    answer = stripe_client.delete(
        "/v1/wallet/payment-methods/pm_card_visa", headers=intruder.headers
    )
    assert answer.status_code == 404
    assert stripe_fake.calls("POST", r"/v1/payment_methods/.*/detach") == []
    assert wallet_of(db, tenant.workspace_id).default_payment_method_id == "pm_card_visa"
