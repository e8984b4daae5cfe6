"""Payments tests: the app configured for Stripe, talking to the local fake."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.models import Payment, Wallet
from tests.factories import Caller, make_tenant
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe

WEBHOOK = "/v1/payments/stripe/webhook"


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def stripe_settings(stripe_fake: FakeStripe) -> dict[str, Any]:
    return {
        "payments_provider": "stripe",
        "stripe_api_key": API_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": stripe_fake.base_url,
    }


@pytest.fixture
def stripe_client(
    make_client: Callable[..., TestClient], stripe_settings: dict[str, Any]
) -> TestClient:
    return make_client(**stripe_settings)


@pytest.fixture
def tenant(db: Database) -> Caller:
    return make_tenant(db)


def post_event(
    client: TestClient, fake: FakeStripe, type: str, obj: dict[str, Any], **sign: Any
) -> Any:
    payload = fake.event(type, obj)
    return client.post(
        WEBHOOK,
        content=payload,
        headers={
            "Stripe-Signature": fake.sign(payload, **sign),
            "content-type": "application/json",
        },
    )


def replay(client: TestClient, fake: FakeStripe, payload: str) -> Any:
    return client.post(
        WEBHOOK,
        content=payload,
        headers={"Stripe-Signature": fake.sign(payload), "content-type": "application/json"},
    )


def payment(db: Database, payment_id: str | uuid.UUID) -> Payment:
    with db.transaction(write=False) as session:
        found = session.get(Payment, uuid.UUID(str(payment_id)))
        assert found is not None
        return found


def wallet_of(db: Database, workspace_id: uuid.UUID) -> Wallet:
    with db.transaction(write=False) as session:
        found = session.scalars(select(Wallet).where(Wallet.workspace_id == workspace_id)).first()
        assert found is not None
        return found


def save_card(
    client: TestClient,
    fake: FakeStripe,
    caller: Caller,
    method: str = "pm_card_visa",
    **body: Any,
) -> dict[str, Any]:
    """Enable auto-recharge through the setup Checkout, completed with `method`."""
    answer = client.put(
        "/v1/wallet/auto-recharge", json={"enabled": True, **body}, headers=caller.headers
    )
    assert answer.status_code == 202, answer.text
    session_id = answer.json()["setup_url"].rsplit("/", 1)[-1]
    session = fake.complete(session_id, method=method)
    done = post_event(client, fake, "checkout.session.completed", session)
    assert done.status_code == 200, done.text
    return dict(answer.json())
