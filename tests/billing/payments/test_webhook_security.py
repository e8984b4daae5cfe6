"""The Stripe webhook is authenticated by its signature only: forged, unsigned, stale or
malformed events are refused with 400 and logged without any secret, and change nothing."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import PaymentEvent, PaymentStatus
from tests.billing.payments.conftest import WEBHOOK, payment, wallet_of
from tests.factories import Caller
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe


def _paid_session(client: TestClient, fake: FakeStripe, caller: Caller) -> tuple[str, dict]:
    answer = client.post("/v1/wallet/top-ups", json={"amount_cents": 2500}, headers=caller.headers)
    assert answer.status_code == 201, answer.text
    (session_id,) = fake.sessions
    return answer.json()["payment_id"], fake.complete(session_id)


def _events(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(PaymentEvent)) or 0)


def _post(client: TestClient, payload: str, signature: str | None) -> object:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post(WEBHOOK, content=payload, headers=headers)


@pytest.mark.parametrize("case", ["unsigned", "forged", "stale", "tampered", "garbage"])
def test_refused_events_change_nothing(
    db: Database,
    stripe_client: TestClient,
    stripe_fake: FakeStripe,
    tenant: Caller,
    case: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    payment_id, session = _paid_session(stripe_client, stripe_fake, tenant)
    payload = stripe_fake.event("checkout.session.completed", session)
    signature: str | None
    if case == "unsigned":
        signature = None
    elif case == "forged":
        signature = stripe_fake.sign(payload, secret="whsec_someone_else")
    elif case == "stale":
        signature = stripe_fake.sign(payload, timestamp=int(time.time()) - 3600)
    elif case == "tampered":
        signature = stripe_fake.sign(payload)
        body = json.loads(payload)
        body["data"]["object"]["amount_total"] = 999_999
        payload = json.dumps(body)
    else:
        signature = "t=1,v1=deadbeef"
    with caplog.at_level(logging.INFO):
        answer = _post(stripe_client, payload, signature)
    assert answer.status_code == 400, answer.text  # type: ignore[attr-defined]
    assert answer.json()["code"] == "invalid_webhook_signature"  # type: ignore[attr-defined]
    assert "webhook refused" in caplog.text
    assert WEBHOOK_SECRET not in caplog.text
    assert API_KEY not in caplog.text
    assert _events(db) == 0
    assert wallet_of(db, tenant.workspace_id).balance_cents == 0
    assert payment(db, payment_id).status == PaymentStatus.OPEN


def test_the_webhook_needs_no_api_key_and_takes_none(
    db: Database, stripe_client: TestClient, stripe_fake: FakeStripe, tenant: Caller
) -> None:
    _, session = _paid_session(stripe_client, stripe_fake, tenant)
    payload = stripe_fake.event("checkout.session.completed", session)
    # An API key does not stand in for the signature.
    refused = stripe_client.post(
        WEBHOOK, content=payload, headers={**tenant.headers, "content-type": "application/json"}
    )
    assert refused.status_code == 400
    accepted = _post(stripe_client, payload, stripe_fake.sign(payload))
    assert accepted.status_code == 200  # type: ignore[attr-defined]
    assert wallet_of(db, tenant.workspace_id).balance_cents == 2500


def test_without_stripe_every_event_is_refused(client: TestClient, stripe_fake: FakeStripe) -> None:
    payload = stripe_fake.event("checkout.session.completed", {"id": "cs_test_x"})
    answer = _post(client, payload, stripe_fake.sign(payload))
    assert answer.status_code == 400  # type: ignore[attr-defined]


def test_secrets_never_reach_responses_or_logs(
    db: Database,
    stripe_client: TestClient,
    stripe_fake: FakeStripe,
    tenant: Caller,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        texts = [
            stripe_client.post(
                "/v1/wallet/top-ups", json={"amount_cents": 2500}, headers=tenant.headers
            ).text,
            stripe_client.get("/v1/wallet", headers=tenant.headers).text,
            stripe_client.get("/v1/wallet/payment-methods", headers=tenant.headers).text,
            stripe_client.put(
                "/v1/wallet/auto-recharge", json={"enabled": True}, headers=tenant.headers
            ).text,
            stripe_client.get("/openapi.json").text,
        ]
    for text in [*texts, caplog.text]:
        assert API_KEY not in text
        assert WEBHOOK_SECRET not in text


def test_the_webhook_skips_the_idempotency_and_rate_limit_policies(
    db: Database,
    make_client: Any,
    stripe_settings: dict[str, Any],
    stripe_fake: FakeStripe,
    tenant: Caller,
) -> None:
    """Both key on the API key, which Stripe never sends: a key and an Idempotency-Key sent
    anyway change nothing, and deliveries are never rate limited."""
    client = make_client(
        **stripe_settings, rate_limit_enabled=True, rate_limit_per_second=1, rate_limit_per_minute=1
    )
    headers = {**tenant.headers, "Idempotency-Key": "same", "content-type": "application/json"}
    outcomes = []
    for index in range(3):
        payload = stripe_fake.event("customer.created", {"id": f"cus_{index}"})
        answer = client.post(
            WEBHOOK,
            content=payload,
            headers={**headers, "Stripe-Signature": stripe_fake.sign(payload)},
        )
        assert answer.status_code == 200, answer.text
        assert "Idempotency-Replayed" not in answer.headers
        outcomes.append(answer.json()["outcome"])
    assert outcomes == ["ignored"] * 3
    assert _events(db) == 3
