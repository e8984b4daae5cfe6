"""Top-ups through Stripe Checkout: the session asked for, and the wallet credited only from
the signed webhook, once."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import (
    Event,
    LedgerKind,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Role,
    WalletEntry,
)
from tests.billing.payments.conftest import payment, post_event, replay, wallet_of
from tests.factories import Caller, make_member
from tests.support.fake_stripe import FakeStripe


def _top_up(client: TestClient, caller: Caller, cents: int = 2500, **headers: str) -> dict:
    answer = client.post(
        "/v1/wallet/top-ups", json={"amount_cents": cents}, headers={**caller.headers, **headers}
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _entries(db: Database, workspace_id: uuid.UUID) -> list[WalletEntry]:
    with db.transaction(write=False) as session:
        return list(
            session.scalars(select(WalletEntry).where(WalletEntry.workspace_id == workspace_id))
        )


def test_a_top_up_opens_a_checkout_with_the_right_params(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    body = _top_up(stripe_client, tenant, 2500)
    assert body["status"] == "OPEN"
    assert body["amount_cents"] == 2500
    assert body["currency"] == "USD"
    assert body["url"].startswith("https://checkout.stripe.com/")
    (session,) = stripe_fake.sessions.values()
    params = session["_params"]
    assert params["mode"] == "payment"
    line = params["line_items"][0]
    assert line["price_data"] == {
        "currency": "usd",
        "unit_amount": "2500",
        "product_data": {"name": "Wallet top-up"},
    }
    assert params["payment_intent_data"]["setup_future_usage"] == "off_session"
    assert params["client_reference_id"] == body["payment_id"]
    assert params["metadata"] == {
        "workspace_id": str(tenant.workspace_id),
        "payment_id": body["payment_id"],
    }
    assert params["success_url"].endswith("status=success")
    assert params["cancel_url"].endswith("status=cancel")
    # The customer is made once and kept on the wallet.
    assert params["customer"] == wallet_of(db, tenant.workspace_id).payment_customer_id
    assert params["customer"] in stripe_fake.customers
    (create,) = stripe_fake.calls("POST", "/v1/checkout/sessions")
    assert create.idempotency_key == f"checkout:{body['payment_id']}"
    recorded = payment(db, body["payment_id"])
    assert recorded.external_id == session["id"]
    assert recorded.status == PaymentStatus.OPEN
    # Nothing is credited before Stripe says the payment is paid.
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0

    _top_up(stripe_client, tenant, 1000)
    assert len(stripe_fake.calls("POST", "/v1/customers")) == 1


def test_the_webhook_credits_once_and_replays_change_nothing(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    body = _top_up(stripe_client, tenant, 2500)
    (session_id,) = stripe_fake.sessions
    session = stripe_fake.complete(session_id)
    payload = stripe_fake.event("checkout.session.completed", session)
    first = replay(stripe_client, stripe_fake, payload)
    assert first.status_code == 200
    assert first.json()["outcome"] == "applied"
    again = replay(stripe_client, stripe_fake, payload)
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    # The same session in another event (a second delivery id) credits nothing either.
    other = post_event(
        stripe_client, stripe_fake, "checkout.session.async_payment_succeeded", session
    )
    assert other.status_code == 200
    assert wallet_of(db, tenant.workspace_id).balance_cents == 2500
    (entry,) = _entries(db, tenant.workspace_id)
    assert entry.kind == LedgerKind.TOPUP
    assert entry.amount_cents == 2500
    assert (entry.reference_type, entry.reference_id) == ("payment", body["payment_id"])
    assert entry.dedupe_key == f"stripe:checkout:{session_id}"
    assert payment(db, body["payment_id"]).status == PaymentStatus.SUCCEEDED
    wallet = stripe_client.get("/v1/wallet", headers=tenant.headers).json()
    assert wallet["balance_cents"] == 2500


def test_async_success_before_completion_credits_once(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    body = _top_up(stripe_client, tenant, 3000)
    (session_id,) = stripe_fake.sessions
    session = stripe_fake.complete(session_id, paid=False)
    early = post_event(
        stripe_client,
        stripe_fake,
        "checkout.session.async_payment_succeeded",
        {**session, "payment_status": "paid"},
    )
    assert early.json()["outcome"] == "applied"
    late = post_event(stripe_client, stripe_fake, "checkout.session.completed", session)
    assert late.status_code == 200
    assert wallet_of(db, tenant.workspace_id).balance_cents == 3000
    assert len(_entries(db, tenant.workspace_id)) == 1
    assert payment(db, body["payment_id"]).status == PaymentStatus.SUCCEEDED


def test_unpaid_completion_waits_then_async_outcomes_decide(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    paid_later = _top_up(stripe_client, tenant, 1500)
    failed_later = _top_up(stripe_client, tenant, 1600)
    ids = list(stripe_fake.sessions)
    first = stripe_fake.complete(ids[0], paid=False)
    second = stripe_fake.complete(ids[1], paid=False)
    post_event(stripe_client, stripe_fake, "checkout.session.completed", first)
    post_event(stripe_client, stripe_fake, "checkout.session.completed", second)
    assert payment(db, paid_later["payment_id"]).status == PaymentStatus.PROCESSING
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0
    post_event(stripe_client, stripe_fake, "checkout.session.async_payment_succeeded", first)
    post_event(stripe_client, stripe_fake, "checkout.session.async_payment_failed", second)
    assert payment(db, paid_later["payment_id"]).status == PaymentStatus.SUCCEEDED
    failed = payment(db, failed_later["payment_id"])
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_message
    assert wallet_of(db, tenant.workspace_id).balance_cents == 1500


def test_an_expired_checkout_expires_the_payment(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    body = _top_up(stripe_client, tenant)
    (session,) = stripe_fake.sessions.values()
    expired = {k: v for k, v in session.items() if not k.startswith("_")}
    post_event(
        stripe_client, stripe_fake, "checkout.session.expired", {**expired, "status": "expired"}
    )
    assert payment(db, body["payment_id"]).status == PaymentStatus.EXPIRED
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0


def test_events_about_unknown_sessions_are_recorded_unmatched(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe
) -> None:
    answer = post_event(
        stripe_client,
        stripe_fake,
        "checkout.session.completed",
        {
            "id": "cs_test_nobody",
            "object": "checkout.session",
            "mode": "payment",
            "payment_status": "paid",
            "metadata": {},
        },
    )
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "unmatched"
    unknown = post_event(stripe_client, stripe_fake, "customer.created", {"id": "cus_x"})
    assert unknown.status_code == 200
    assert unknown.json()["outcome"] == "ignored"
    with db.transaction(write=False) as session:
        outcomes = sorted(session.scalars(select(PaymentEvent.outcome)))
    assert outcomes == ["ignored", "unmatched"]


def test_a_retried_top_up_with_the_same_key_opens_one_session(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    first = _top_up(stripe_client, tenant, 2000, **{"Idempotency-Key": "topup-1"})
    second = _top_up(stripe_client, tenant, 2000, **{"Idempotency-Key": "topup-1"})
    assert first == second
    assert len(stripe_fake.sessions) == 1
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1


def test_top_up_amounts_are_bounded_and_dry_runs_change_nothing(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    for cents in (0, -5, 499, 1_000_001):
        answer = stripe_client.post(
            "/v1/wallet/top-ups", json={"amount_cents": cents}, headers=tenant.headers
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_amount"
    typed = stripe_client.post(
        "/v1/wallet/top-ups", json={"amount_cents": "2500"}, headers=tenant.headers
    )
    assert typed.status_code == 422
    quote = stripe_client.post(
        "/v1/wallet/top-ups", json={"amount_cents": 2500, "dry_run": True}, headers=tenant.headers
    )
    assert quote.status_code == 200, quote.text
    assert quote.json() == {
        "payment_id": None,
        "status": None,
        "url": None,
        "amount_cents": 2500,
        "currency": "USD",
        "dry_run": True,
    }
    by_query = stripe_client.post(
        "/v1/wallet/top-ups?dry_run=true", json={"amount_cents": 2500}, headers=tenant.headers
    )
    assert by_query.status_code == 200
    assert by_query.json() == quote.json()
    assert stripe_fake.log == []
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0


def test_only_admins_buy(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    viewer = make_member(db, tenant, Role.VIEWER)
    answer = stripe_client.post(
        "/v1/wallet/top-ups", json={"amount_cents": 2500}, headers=viewer.headers
    )
    assert answer.status_code == 403
    assert stripe_client.get("/v1/wallet", headers=viewer.headers).status_code == 200
    assert stripe_fake.log == []


def test_money_movements_are_events(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    body = _top_up(stripe_client, tenant, 2500)
    (session_id,) = stripe_fake.sessions
    post_event(
        stripe_client, stripe_fake, "checkout.session.completed", stripe_fake.complete(session_id)
    )
    with db.transaction(write=False) as session:
        events = list(
            session.scalars(select(Event).where(Event.workspace_id == tenant.workspace_id))
        )
    by_type = {event.type: event for event in events}
    succeeded = by_type["payment.succeeded"]
    assert succeeded.data["payment_id"] == body["payment_id"]
    assert succeeded.data["amount_cents"] == 2500
    credited = by_type["wallet.credited"]
    assert credited.data["kind"] == "TOPUP"
    assert credited.data["amount_cents"] == 2500


def test_a_provider_refusal_fails_the_payment_with_a_502(
    db: Database,
    make_client: Any,
    stripe_settings: dict[str, Any],
    stripe_fake: FakeStripe,
    tenant: Caller,
) -> None:
    client = make_client(**{**stripe_settings, "stripe_api_key": "sk_test_wrong"})
    answer = client.post("/v1/wallet/top-ups", json={"amount_cents": 2500}, headers=tenant.headers)
    assert answer.status_code == 502, answer.text
    assert answer.json()["code"] == "payment_provider_error"
    assert "sk_test_wrong" not in answer.text
    with db.transaction(write=False) as session:
        (failed,) = session.scalars(select(Payment))
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_code == "provider_error"
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0
