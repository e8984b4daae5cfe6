"""Availability through /v1: verdicts, Mailfleet's price, bad input, the workspace quota."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from tests.factories import make_tenant
from tests.fakes.porkbun import API_KEY, SECRET, FakePorkbun


@pytest.fixture
def fake() -> Iterator[FakePorkbun]:
    with FakePorkbun(taken={"taken.com"}, premium={"gold.com"}) as fake:
        yield fake


@pytest.fixture
def selling(make_client: Callable[..., TestClient], fake: FakePorkbun) -> Callable[..., TestClient]:
    def build(**overrides: Any) -> TestClient:
        return make_client(
            registrar="porkbun",
            porkbun_api_key=API_KEY,
            porkbun_secret_api_key=SECRET,
            porkbun_api_base=fake.base_url,
            **overrides,
        )

    return build


def test_a_list_is_answered_name_by_name_with_the_markup(
    db: Database, selling: Callable[..., TestClient]
) -> None:
    client = selling(domain_price_markup_percent=25)
    owner = make_tenant(db)
    response = client.post(
        "/v1/domain-availability",
        json={"names": ["Free.com", "taken.com", "gold.com", "not a name"]},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["name"], i["verdict"], i["available"]) for i in items] == [
        ("free.com", "AVAILABLE", True),
        ("taken.com", "TAKEN", False),
        ("gold.com", "PREMIUM", False),
        ("not a name", "UNSUPPORTED", False),
    ]
    assert items[0]["registrar_price_cents"] == 1108
    assert items[0]["price_cents"] == 1385  # 1108 * 1.25
    assert items[0]["registrar"] == "porkbun"
    assert items[3]["reason"]


def test_one_name(db: Database, selling: Callable[..., TestClient]) -> None:
    client = selling(domain_price_markup_percent=10)
    owner = make_tenant(db)
    response = client.get("/v1/domain-availability?name=free.com", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["price_cents"] == 1219  # ceil(1108 * 1.1)


def test_bad_lists_are_refused_before_any_check(
    db: Database, selling: Callable[..., TestClient], fake: FakePorkbun
) -> None:
    client = selling()
    owner = make_tenant(db)
    many = client.post(
        "/v1/domain-availability",
        json={"names": [f"n{i}.com" for i in range(21)]},
        headers=owner.headers,
    )
    assert many.status_code == 422
    assert many.json()["code"] == "too_many_names"
    twice = client.post(
        "/v1/domain-availability", json={"names": ["a.com", "A.com"]}, headers=owner.headers
    )
    assert twice.status_code == 422
    assert twice.json()["code"] == "duplicate_names"
    assert twice.json()["field"] == "names[1]"
    assert fake.log == []


def test_searches_are_limited_per_workspace(
    db: Database, selling: Callable[..., TestClient]
) -> None:
    client = selling(domain_search_limit=2, domain_search_window_minutes=30)
    owner, other = make_tenant(db), make_tenant(db)
    for _ in range(2):
        ok = client.get("/v1/domain-availability?name=free.com", headers=owner.headers)
        assert ok.status_code == 200
    refused = client.get("/v1/domain-availability?name=free.com", headers=owner.headers)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused.headers["retry-after"]) <= 1800
    assert (
        client.get("/v1/domain-availability?name=free.com", headers=other.headers).status_code
        == 200
    )


def test_a_registrar_that_fails_is_a_502(
    db: Database, make_client: Callable[..., TestClient], fake: FakePorkbun
) -> None:
    client = make_client(
        registrar="porkbun",
        porkbun_api_key="pk1_wrong",
        porkbun_secret_api_key=SECRET,
        porkbun_api_base=fake.base_url,
    )
    owner = make_tenant(db)
    response = client.get("/v1/domain-availability?name=free.com", headers=owner.headers)
    assert response.status_code == 502
    assert response.json()["code"] == "registrar_error"
    assert SECRET not in response.text
    assert "pk1_wrong" not in response.text


def test_without_a_registrar_it_says_so(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.get("/v1/domain-availability?name=free.com", headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "registrar_not_configured"
