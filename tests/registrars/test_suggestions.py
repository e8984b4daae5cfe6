"""Look-alike suggestions: the names proposed for a seed, and /v1/domain-suggestions answering
only the available ones, in one registrar check (one search of the quota)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.registrars import suggestions
from tests.factories import make_tenant
from tests.fakes.porkbun import API_KEY, SECRET, FakePorkbun


def test_candidates_put_other_tlds_first_then_mix_prefixes_and_suffixes() -> None:
    names = suggestions.candidates("Acme.com", ["io", "com", "co"], at_most=8)

    assert names == [
        "acme.io",
        "acme.co",
        "getacme.com",
        "acmehq.com",
        "tryacme.com",
        "acmemail.com",
        "useacme.com",
        "acmeapp.com",
    ]
    assert "acme.com" not in suggestions.candidates("acme")
    assert len(suggestions.candidates("acme", at_most=5)) == 5
    assert len(suggestions.candidates("acme")) == 3 + 16  # three other TLDs, 16 forms
    assert suggestions.split("brand") == ("brand", "com")


@pytest.fixture
def fake() -> Iterator[FakePorkbun]:
    with FakePorkbun(taken={"acme.io", "getacme.com"}, premium={"acmehq.com"}) as fake:
        yield fake


@pytest.fixture
def api(make_client: Callable[..., TestClient], fake: FakePorkbun) -> TestClient:
    return make_client(
        registrar="porkbun",
        porkbun_api_key=API_KEY,
        porkbun_secret_api_key=SECRET,
        porkbun_api_base=fake.base_url,
        domain_search_limit=2,
        domain_search_window_minutes=30,
    )


def test_only_available_look_alikes_are_answered_best_first(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)

    response = api.post(
        "/v1/domain-suggestions",
        json={"seed": "acme", "tlds": ["io", "co"], "limit": 3},
        headers=owner.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["seed"], body["checked"]) == ("acme.com", 18)
    # acme.io and getacme.com are taken, acmehq.com premium: never proposed.
    assert [item["name"] for item in body["items"]] == ["acme.co", "tryacme.com", "acmemail.com"]
    assert all(item["available"] and item["price_cents"] for item in body["items"])


def test_a_suggestion_spends_one_search_of_the_quota(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    body = {"seed": "brand"}

    answers = [
        api.post("/v1/domain-suggestions", json=body, headers=owner.headers).status_code
        for _ in range(3)
    ]

    assert answers == [200, 200, 429]


def test_bad_input_is_refused(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)

    for body in ({"seed": ""}, {"seed": "acme", "limit": 21}, {"seed": "acme", "tlds": ["x"] * 11}):
        response = api.post("/v1/domain-suggestions", json=body, headers=owner.headers)
        assert response.status_code == 422, response.text
