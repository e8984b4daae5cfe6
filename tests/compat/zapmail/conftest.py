"""Fixtures of the Zapmail surface's purchase tests: a registrar fake (Porkbun), the Stripe fake,
and a client selling domains through both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fakes.porkbun import API_KEY, SECRET, FakePorkbun
from tests.support.fake_stripe import API_KEY as STRIPE_KEY
from tests.support.fake_stripe import WEBHOOK_SECRET, FakeStripe


@pytest.fixture
def porkbun() -> Iterator[FakePorkbun]:
    with FakePorkbun(taken={"taken.com"}, premium={"gold.com"}) as fake:
        yield fake


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def selling(
    make_client: Callable[..., TestClient], porkbun: FakePorkbun, stripe_fake: FakeStripe
) -> Callable[..., TestClient]:
    def build(**overrides: Any) -> TestClient:
        settings: dict[str, Any] = {
            "registrar": "porkbun",
            "porkbun_api_key": API_KEY,
            "porkbun_secret_api_key": SECRET,
            "porkbun_api_base": porkbun.base_url,
            "domain_price_markup_percent": 25,
            "payments_provider": "stripe",
            "stripe_api_key": STRIPE_KEY,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_api_base": stripe_fake.base_url,
        }
        return make_client(**{**settings, **overrides})

    return build


@pytest.fixture
def api(selling: Callable[..., TestClient]) -> TestClient:
    return selling()
