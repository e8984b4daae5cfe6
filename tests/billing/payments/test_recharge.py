"""Auto-recharge: the saved card charged off-session, with Stripe's outcomes (succeeded,
card_declined, authentication_required), once per PaymentIntent, at most one in flight per
wallet, and under a daily cap; the job a low balance enqueues, and the sweep."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.billing import charges
from mailfleet.billing.invoices.service import Line
from mailfleet.billing.payments import service, tasks
from mailfleet.db import Database
from mailfleet.jobs.queue import Runtime
from mailfleet.kit import clock
from mailfleet.models import Event, LedgerKind, Payment, PaymentPurpose, PaymentStatus, WalletEntry
from tests.billing.payments.conftest import payment, post_event, save_card, wallet_of
from tests.factories import Caller, fund_wallet
from tests.support.fake_stripe import FakeStripe
from tests.support.jobs import drain


def _runtime(client: TestClient) -> Runtime:
    return client.app.state.runtime  # type: ignore[attr-defined,no-any-return]


def _recharge(client: TestClient, caller: Caller, needed: int = 0) -> service.RechargeOutcome:
    runtime = _runtime(client)
    return service.recharge_for(runtime, runtime.settings, caller.workspace_id, needed, "test")


def _entries(db: Database, workspace_id: uuid.UUID) -> list[WalletEntry]:
    with db.transaction(write=False) as session:
        return list(
            session.scalars(select(WalletEntry).where(WalletEntry.workspace_id == workspace_id))
        )


def _recharges(db: Database) -> list[Payment]:
    with db.transaction(write=False) as session:
        return list(
            session.scalars(select(Payment).where(Payment.purpose == PaymentPurpose.RECHARGE))
        )


def test_enabling_without_a_card_returns_a_setup_checkout(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    answer = save_card(stripe_client, stripe_fake, tenant, threshold_cents=1000, amount_cents=6000)
    assert answer["enabled"] is False
    assert answer["has_payment_method"] is False
    (session,) = stripe_fake.sessions.values()
    assert session["_params"]["mode"] == "setup"
    purse = wallet_of(db, tenant.workspace_id)
    # Turned on once the webhook saved the card.
    assert purse.auto_recharge_enabled is True
    assert purse.default_payment_method_id == "pm_card_visa"
    assert (purse.auto_recharge_threshold_cents, purse.auto_recharge_amount_cents) == (1000, 6000)
    assert payment(db, answer["setup_payment_id"]).status == PaymentStatus.SUCCEEDED
    wallet = stripe_client.get("/v1/wallet", headers=tenant.headers).json()
    assert wallet["auto_recharge"] == {
        "enabled": True,
        "threshold_cents": 1000,
        "amount_cents": 6000,
    }
    assert wallet["has_payment_method"] is True
    # With a card on file, enabling again is immediate.
    again = stripe_client.put(
        "/v1/wallet/auto-recharge", json={"enabled": True}, headers=tenant.headers
    )
    assert again.status_code == 200, again.text
    assert again.json()["setup_url"] is None


def test_auto_recharge_bounds(stripe_client: TestClient, tenant: Caller) -> None:
    for body in (
        {"enabled": True, "amount_cents": 4999},
        {"enabled": True, "threshold_cents": -1},
        {"enabled": True, "amount_cents": "5000"},
    ):
        answer = stripe_client.put("/v1/wallet/auto-recharge", json=body, headers=tenant.headers)
        assert answer.status_code == 422, (body, answer.text)


def test_a_succeeded_recharge_credits_once_with_the_webhook(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant)
    outcome = _recharge(stripe_client, tenant, needed=7000)
    assert outcome.status == "succeeded"
    assert outcome.credited is True
    # At least the shortfall, at least the recharge amount.
    assert outcome.amount_cents == 7000
    (intent,) = stripe_fake.intents.values()
    assert intent["off_session"] == "true"
    assert intent["confirm"] == "true"
    assert intent["customer"] == wallet_of(db, tenant.workspace_id).payment_customer_id
    assert intent["payment_method"] == "pm_card_visa"
    (call,) = stripe_fake.calls("POST", "/v1/payment_intents")
    assert call.idempotency_key == f"recharge:{outcome.payment_id}"
    # Stripe's own event for the same intent finds it credited.
    replayed = post_event(stripe_client, stripe_fake, "payment_intent.succeeded", intent)
    assert replayed.status_code == 200
    assert wallet_of(db, tenant.workspace_id).balance_cents == 7000
    (entry,) = _entries(db, tenant.workspace_id)
    assert entry.kind == LedgerKind.TOPUP
    assert entry.dedupe_key == f"stripe:pi:{intent['id']}"
    assert payment(db, outcome.payment_id or "").status == PaymentStatus.SUCCEEDED


def test_the_webhook_first_then_the_charge_credits_once(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    """Stripe's event can arrive before the charge call returns: still one credit."""
    save_card(stripe_client, stripe_fake, tenant)
    stripe_fake.hold_intents = threading.Event()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(o=_recharge(stripe_client, tenant)))
    worker.start()
    assert stripe_fake.intent_arrived.wait(30)
    (intent,) = stripe_fake.intents.values()
    early = post_event(
        stripe_client, stripe_fake, "payment_intent.succeeded", {**intent, "status": "succeeded"}
    )
    assert early.json()["outcome"] == "applied"
    stripe_fake.hold_intents.set()
    worker.join(30)
    assert result["o"].status == "succeeded"
    assert wallet_of(db, tenant.workspace_id).balance_cents == 5000
    assert len(_entries(db, tenant.workspace_id)) == 1


def test_a_declined_card_fails_the_recharge_with_its_message(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant, method="pm_card_chargeDeclined")
    outcome = _recharge(stripe_client, tenant)
    assert outcome.status == "declined"
    assert outcome.credited is False
    assert outcome.message == "Your card was declined."
    failed = payment(db, outcome.payment_id or "")
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_code == "generic_decline"
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0
    # A failed recharge is not in flight: the next one may run.
    assert _recharge(stripe_client, tenant).status == "declined"


def test_authentication_required_gives_a_link_to_pay_on_session(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant, method="pm_card_authenticationRequired")
    outcome = _recharge(stripe_client, tenant)
    assert outcome.status == "requires_action"
    assert outcome.credited is False
    assert outcome.url is not None
    assert outcome.url.startswith("https://checkout.stripe.com/")
    waiting = payment(db, outcome.payment_id or "")
    assert waiting.status == PaymentStatus.REQUIRES_ACTION
    assert waiting.failure_code == "authentication_required"
    assert waiting.url == outcome.url
    # The customer pays on the link: the recharge succeeds and the wallet is credited once.
    session_id = outcome.url.rsplit("/", 1)[-1]
    assert stripe_fake.sessions[session_id]["metadata"]["payment_id"] == str(outcome.payment_id)
    session = stripe_fake.complete(session_id)
    post_event(stripe_client, stripe_fake, "checkout.session.completed", session)
    post_event(stripe_client, stripe_fake, "checkout.session.completed", session)
    assert payment(db, outcome.payment_id or "").status == PaymentStatus.SUCCEEDED
    assert wallet_of(db, tenant.workspace_id).balance_cents == 5000


def test_at_most_one_recharge_in_flight(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant)
    stripe_fake.hold_intents = threading.Event()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(o=_recharge(stripe_client, tenant)))
    worker.start()
    assert stripe_fake.intent_arrived.wait(30)
    # While the first is held at Stripe, a second is refused without calling Stripe.
    second = _recharge(stripe_client, tenant)
    assert second.status == "in_flight"
    assert len(stripe_fake.calls("POST", "/v1/payment_intents")) == 1
    stripe_fake.hold_intents.set()
    worker.join(30)
    assert result["o"].status == "succeeded"
    assert len(_recharges(db)) == 1
    assert wallet_of(db, tenant.workspace_id).balance_cents == 5000


def test_the_daily_cap_stops_recharges(
    db: Database,
    make_client: Any,
    stripe_settings: dict[str, Any],
    stripe_fake: FakeStripe,
    tenant: Caller,
) -> None:
    client = make_client(**stripe_settings, auto_recharge_daily_cap_cents=12_000)
    save_card(client, stripe_fake, tenant)
    assert _recharge(client, tenant).status == "succeeded"
    assert _recharge(client, tenant).status == "succeeded"
    capped = _recharge(client, tenant)
    assert capped.status == "cap_reached"
    assert "12000" in (capped.message or "")
    assert len(stripe_fake.calls("POST", "/v1/payment_intents")) == 2
    # Tomorrow the cap starts again.
    clock.advance(24 * 3600)
    assert _recharge(client, tenant).status == "succeeded"
    assert wallet_of(db, tenant.workspace_id).balance_cents == 15_000


def test_without_auto_recharge_or_a_card_nothing_is_charged(
    stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    assert _recharge(stripe_client, tenant, 1000).status == "not_enabled"
    assert stripe_fake.calls("POST", "/v1/payment_intents") == []


def test_a_debit_under_the_threshold_runs_the_recharge_job(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant, threshold_cents=2000, amount_cents=5000)
    fund_wallet(db, tenant.workspace_id, 3000)
    runtime = _runtime(stripe_client)
    drain(runtime)
    with db.transaction() as session:
        charges.charge(
            session,
            tenant.workspace_id,
            kind=LedgerKind.PURCHASE,
            lines=[Line("Test", 1, 1500, 1500)],
            reason="test purchase",
            actor="test",
        )
    assert drain(runtime) >= 1
    assert wallet_of(db, tenant.workspace_id).balance_cents == 1500 + 5000
    # Above the threshold now: a second run of the job charges nothing.
    tasks.recharge(runtime, str(tenant.workspace_id))
    assert len(stripe_fake.calls("POST", "/v1/payment_intents")) == 1


def test_the_sweep_reruns_a_recharge_left_open(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant)
    runtime = _runtime(stripe_client)
    # A crash after the payment was recorded, before Stripe was called.
    with db.transaction() as session:
        started = service.start_recharge(session, runtime.settings, tenant.workspace_id, 0, "t")
    assert isinstance(started, uuid.UUID)
    drain(runtime)
    assert tasks.sweep_open_recharges(runtime) == 0  # within its lease
    clock.advance(tasks.LEASE.total_seconds() + 1)
    assert tasks.sweep_open_recharges(runtime) == 1
    assert tasks.sweep_open_recharges(runtime) == 0  # claimed: not handed out twice
    drain(runtime)
    assert payment(db, started).status == PaymentStatus.SUCCEEDED
    assert wallet_of(db, tenant.workspace_id).balance_cents == 5000
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(WalletEntry)) == 1


def test_a_failure_event_before_the_charge_returns_fails_it_once(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    save_card(stripe_client, stripe_fake, tenant, method="pm_card_chargeDeclined")
    stripe_fake.hold_intents = threading.Event()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(o=_recharge(stripe_client, tenant)))
    worker.start()
    assert stripe_fake.intent_arrived.wait(30)
    (intent,) = stripe_fake.intents.values()
    error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    early = post_event(
        stripe_client,
        stripe_fake,
        "payment_intent.payment_failed",
        {**intent, "status": "requires_payment_method", "last_payment_error": error},
    )
    assert early.json()["outcome"] == "applied"
    stripe_fake.hold_intents.set()
    worker.join(30)
    assert result["o"].status == "declined"
    (failed,) = _recharges(db)
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_code == "insufficient_funds"
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0
    with db.transaction(write=False) as session:
        failures = session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "payment.failed")
        )
    assert failures == 1
