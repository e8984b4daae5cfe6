"""Operator refunds: the card gets the money back through Stripe's refunds API, the wallet is
debited by as much (never below zero), and `charge.refunded` settles refunds made elsewhere
without ever debiting the same refund twice."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.billing.payments import service
from mailfleet.db import Database
from mailfleet.models import LedgerKind, PaymentStatus, WalletEntry
from tests.billing.payments.conftest import payment, post_event, replay, save_card, wallet_of
from tests.factories import Caller, make_tenant
from tests.support.fake_stripe import FakeStripe


def _refunds(payment_id: str) -> str:
    return f"/v1/operator/payments/{payment_id}/refunds"


def _paid_top_up(client: TestClient, fake: FakeStripe, caller: Caller, cents: int) -> str:
    """A top-up paid through Checkout and credited by its webhook; returns the payment id."""
    answer = client.post("/v1/wallet/top-ups", json={"amount_cents": cents}, headers=caller.headers)
    assert answer.status_code == 201, answer.text
    session = fake.complete(answer.json()["url"].rsplit("/", 1)[-1])
    assert post_event(client, fake, "checkout.session.completed", session).status_code == 200
    return str(answer.json()["payment_id"])


def _refund_entries(db: Database, workspace_id: uuid.UUID) -> list[int]:
    with db.transaction(write=False) as session:
        return list(
            session.scalars(
                select(WalletEntry.amount_cents)
                .where(
                    WalletEntry.workspace_id == workspace_id,
                    WalletEntry.kind == LedgerKind.REFUND,
                )
                .order_by(WalletEntry.id)
            )
        )


def _intent_of(fake: FakeStripe, payment_id: str) -> str:
    (session,) = (s for s in fake.sessions.values() if s["metadata"]["payment_id"] == payment_id)
    return str(session["payment_intent"])


def _refund(
    client: TestClient, operator: Caller, payment_id: str, cents: int, key: str | None = None
) -> Any:
    headers = {**operator.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(
        _refunds(payment_id),
        json={"amount_cents": cents, "reason": "customer asked"},
        headers=headers,
    )


def test_a_refund_debits_the_wallet_once_and_its_webhook_changes_nothing(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    operator = make_tenant(db, operator=True)
    paid = _paid_top_up(stripe_client, stripe_fake, tenant, 2500)
    answer = _refund(stripe_client, operator, paid, 1000, key="refund-1")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["status"], body["amount_cents"], body["balance_after_cents"]) == (
        "succeeded",
        1000,
        1500,
    )
    (made,) = stripe_fake.refunds.values()
    assert made["id"] == body["refund_id"]
    assert made["payment_intent"] == _intent_of(stripe_fake, paid)
    assert made["amount"] == 1000
    assert made["metadata"]["payment_id"] == paid
    (call,) = stripe_fake.calls("POST", "/v1/refunds")
    assert call.idempotency_key == f"refund:{paid}:refund-1"
    # The same request again: the same refund, no second debit.
    again = _refund(stripe_client, operator, paid, 1000, key="refund-1")
    assert again.json()["refund_id"] == body["refund_id"]
    assert len(stripe_fake.refunds) == 1
    # Stripe's event about our own refund, delivered twice: already debited.
    charge = stripe_fake.charge_of(made["payment_intent"])
    assert charge["amount_refunded"] == 1000
    for _ in range(2):
        settled = post_event(stripe_client, stripe_fake, "charge.refunded", charge)
        assert settled.status_code == 200
        assert settled.json()["outcome"] == "ignored"
    assert wallet_of(db, tenant.workspace_id).balance_cents == 1500
    assert _refund_entries(db, tenant.workspace_id) == [-1000]


def test_a_refund_made_at_stripe_is_debited_from_its_webhook_once(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    paid = _paid_top_up(stripe_client, stripe_fake, tenant, 2500)
    charge = stripe_fake.refund_directly(_intent_of(stripe_fake, paid), 700)
    payload = stripe_fake.event("charge.refunded", charge)
    assert replay(stripe_client, stripe_fake, payload).json()["outcome"] == "applied"
    assert replay(stripe_client, stripe_fake, payload).json()["outcome"] == "duplicate"
    # Another delivery of the same state (a new event id): nothing left to debit.
    later = post_event(stripe_client, stripe_fake, "charge.refunded", charge)
    assert later.json()["outcome"] == "ignored"
    assert wallet_of(db, tenant.workspace_id).balance_cents == 1800
    assert _refund_entries(db, tenant.workspace_id) == [-700]
    # The charge's payment was found through its PaymentIntent's metadata.
    assert stripe_fake.calls("GET", f"/v1/payment_intents/{charge['payment_intent']}")


def test_refunds_are_bounded_by_the_payment_and_the_balance(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    operator = make_tenant(db, operator=True)
    paid = _paid_top_up(stripe_client, stripe_fake, tenant, 2500)
    assert _refund(stripe_client, operator, paid, 2000).status_code == 201
    over = _refund(stripe_client, operator, paid, 501)
    assert over.status_code == 422
    assert over.json()["code"] == "invalid_amount"
    assert "500" in over.json()["detail"]
    # Spend what is left but 100: the wallet cannot pay 500 back.
    spend = stripe_client.post(
        f"/v1/operator/workspaces/{tenant.workspace_id}/wallet/adjustments",
        json={"amount_cents": -400, "reason": "spent"},
        headers=operator.headers,
    )
    assert spend.status_code == 201, spend.text
    short = _refund(stripe_client, operator, paid, 500)
    assert short.status_code == 402
    assert short.json()["code"] == "insufficient_funds"
    assert wallet_of(db, tenant.workspace_id).balance_cents == 100
    assert _refund_entries(db, tenant.workspace_id) == [-2000]
    assert len(stripe_fake.refunds) == 1
    for cents in (0, -5):
        assert _refund(stripe_client, operator, paid, cents).status_code == 422


def test_only_paid_payments_of_ours_and_only_operators(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    operator = make_tenant(db, operator=True)
    paid = _paid_top_up(stripe_client, stripe_fake, tenant, 2500)
    assert _refund(stripe_client, tenant, paid, 100).status_code == 403
    missing = _refund(stripe_client, operator, str(uuid.uuid4()), 100)
    assert missing.status_code == 404
    assert missing.json()["code"] == "payment_not_found"
    unpaid = stripe_client.post(
        "/v1/wallet/top-ups", json={"amount_cents": 2500}, headers=tenant.headers
    ).json()["payment_id"]
    refused = _refund(stripe_client, operator, unpaid, 100)
    assert refused.status_code == 409
    assert refused.json()["code"] == "payment_status_conflict"
    assert not stripe_fake.refunds


def test_a_refund_stripe_refuses_returns_the_debit(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    operator = make_tenant(db, operator=True)
    paid = _paid_top_up(stripe_client, stripe_fake, tenant, 2500)
    stripe_fake.refuse_refunds = "charge_disputed"
    refused = _refund(stripe_client, operator, paid, 1000)
    assert refused.status_code == 502
    assert refused.json()["code"] == "payment_provider_error"
    assert wallet_of(db, tenant.workspace_id).balance_cents == 2500
    assert _refund_entries(db, tenant.workspace_id) == [-1000, 1000]
    stripe_fake.refuse_refunds = None
    # Nothing is counted as refunded: the whole payment can still be given back.
    assert _refund(stripe_client, operator, paid, 2500).status_code == 201
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0


def test_a_recharge_is_refunded_on_its_payment_intent(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    operator = make_tenant(db, operator=True)
    save_card(stripe_client, stripe_fake, tenant)
    runtime = stripe_client.app.state.runtime  # type: ignore[attr-defined]
    outcome = service.recharge_for(runtime, runtime.settings, tenant.workspace_id, 0, "test")
    assert outcome.status == "succeeded"
    recharge = payment(db, outcome.payment_id or "")
    assert recharge.status == PaymentStatus.SUCCEEDED
    answer = _refund(stripe_client, operator, str(recharge.id), 5000)
    assert answer.status_code == 201, answer.text
    (made,) = stripe_fake.refunds.values()
    assert made["payment_intent"] == recharge.external_id
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0
    charge = stripe_fake.charge_of(str(recharge.external_id))
    assert charge["refunded"] is True
    settled = post_event(stripe_client, stripe_fake, "charge.refunded", charge)
    assert settled.json()["outcome"] == "ignored"
    assert _refund_entries(db, tenant.workspace_id) == [-5000]
