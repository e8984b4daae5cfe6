"""PaymentIntent events beyond success and failure: `processing` and `requires_action` (with
the page the customer must visit), the rule that a recharge waiting for authentication blocks
a new one until it is paid or 24 hours have passed, and who the Stripe customer is."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from mailfleet.billing.payments import service
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import PaymentStatus
from tests.billing.payments.conftest import payment, post_event, save_card, wallet_of
from tests.factories import Caller
from tests.support.fake_stripe import FakeStripe

REDIRECT = "https://hooks.stripe.com/3d_secure_2/hosted?payment_intent=pi_x"


def _open_recharge(client: TestClient, caller: Caller) -> uuid.UUID:
    """A recharge recorded and not charged yet (as between recording and the charge call)."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.transaction() as session:
        started = service.start_recharge(session, runtime.settings, caller.workspace_id, 0, "t")
    assert isinstance(started, uuid.UUID), started
    return started


def _intent(payment_id: uuid.UUID, caller: Caller, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"pi_test_{payment_id.hex[:12]}",
        "object": "payment_intent",
        "amount": 5000,
        "currency": "usd",
        "status": status,
        "metadata": {"payment_id": str(payment_id), "workspace_id": str(caller.workspace_id)},
        "next_action": None,
        **extra,
    }


def _recharge(client: TestClient, caller: Caller) -> service.RechargeOutcome:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return service.recharge_for(runtime, runtime.settings, caller.workspace_id, 0, "test")


def test_processing_then_requires_action_with_the_page_to_visit(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant)
    recharge = _open_recharge(stripe_client, tenant)
    processing = post_event(
        stripe_client,
        stripe_fake,
        "payment_intent.processing",
        _intent(recharge, tenant, "processing"),
    )
    assert processing.json()["outcome"] == "applied"
    assert payment(db, recharge).status == PaymentStatus.PROCESSING
    action = {"type": "redirect_to_url", "redirect_to_url": {"url": REDIRECT, "return_url": None}}
    waiting = post_event(
        stripe_client,
        stripe_fake,
        "payment_intent.requires_action",
        _intent(recharge, tenant, "requires_action", next_action=action),
    )
    assert waiting.json()["outcome"] == "applied"
    found = payment(db, recharge)
    assert (found.status, found.url) == (PaymentStatus.REQUIRES_ACTION, REDIRECT)
    assert found.failure_code == "authentication_required"
    # Authenticated, the intent processes again (the card confirms later).
    again = post_event(
        stripe_client,
        stripe_fake,
        "payment_intent.processing",
        _intent(recharge, tenant, "processing"),
    )
    assert again.json()["outcome"] == "applied"
    assert payment(db, recharge).status == PaymentStatus.PROCESSING
    # Paid after authentication: credited once.
    post_event(
        stripe_client,
        stripe_fake,
        "payment_intent.succeeded",
        _intent(recharge, tenant, "succeeded"),
    )
    assert payment(db, recharge).status == PaymentStatus.SUCCEEDED
    assert wallet_of(db, tenant.workspace_id).balance_cents == 5000
    # A `processing` delivered late, after success, changes nothing.
    late = post_event(
        stripe_client,
        stripe_fake,
        "payment_intent.processing",
        _intent(recharge, tenant, "processing"),
    )
    assert late.json()["outcome"] == "ignored"
    assert payment(db, recharge).status == PaymentStatus.SUCCEEDED


def test_requires_action_without_a_page_gets_a_checkout_link(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant)
    recharge = _open_recharge(stripe_client, tenant)
    sdk_only = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}
    post_event(
        stripe_client,
        stripe_fake,
        "payment_intent.requires_action",
        _intent(recharge, tenant, "requires_action", next_action=sdk_only),
    )
    found = payment(db, recharge)
    assert found.status == PaymentStatus.REQUIRES_ACTION
    assert found.url is not None
    session_id = found.url.rsplit("/", 1)[-1]
    assert stripe_fake.sessions[session_id]["metadata"]["payment_id"] == str(recharge)


def test_a_recharge_awaiting_authentication_blocks_new_ones_until_it_expires(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant, method="pm_card_authenticationRequired")
    first = _recharge(stripe_client, tenant)
    assert first.status == "requires_action"
    assert first.url is not None
    charged = len(stripe_fake.calls("POST", "/v1/payment_intents"))
    # While the customer has not authenticated, no new charge is tried: the same link.
    blocked = _recharge(stripe_client, tenant)
    assert (blocked.status, blocked.payment_id, blocked.url) == (
        "requires_action",
        first.payment_id,
        first.url,
    )
    assert blocked.message is not None
    assert first.url in blocked.message
    assert len(stripe_fake.calls("POST", "/v1/payment_intents")) == charged
    # A day later the link has expired: the old recharge EXPIRES and a new one is tried.
    clock.advance(24 * 3600 + 60)
    again = _recharge(stripe_client, tenant)
    assert again.payment_id != first.payment_id
    assert len(stripe_fake.calls("POST", "/v1/payment_intents")) == charged + 1
    old = payment(db, first.payment_id or "")
    assert (old.status, old.failure_code) == (PaymentStatus.EXPIRED, "authentication_expired")


def test_the_stripe_customer_gets_the_billing_email_and_name(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    saved = stripe_client.put(
        f"/v1/workspaces/{tenant.workspace_id}/billing",
        json={
            "company_name": "Acme Mail",
            "contact_email": "billing@acme.test",
            "address_line1": "1 Road",
            "city": "Paris",
            "postal_code": "75001",
            "country": "FR",
        },
        headers=tenant.headers,
    )
    assert saved.status_code == 200, saved.text
    stripe_client.post("/v1/wallet/top-ups", json={"amount_cents": 2500}, headers=tenant.headers)
    (customer,) = stripe_fake.customers.values()
    assert (customer["email"], customer["name"]) == ("billing@acme.test", "Acme Mail")


def test_without_billing_details_the_owner_is_the_customer(
    stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    stripe_client.post("/v1/wallet/top-ups", json={"amount_cents": 2500}, headers=tenant.headers)
    (customer,) = stripe_fake.customers.values()
    assert customer["email"] == tenant.email
    assert customer["name"]
