"""Zapmail's quick setup: the purchase part, as domains/buy; the mailboxes asked for are counted
in the answer, not placed (Mailfleet has no order-on-activation yet)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainPurchase, Mailbox
from tests.compat.zapmail.test_registration import API, PRICE, balance, count
from tests.factories import fund_wallet, make_tenant
from tests.fakes.porkbun import API_KEY, SECRET, FakePorkbun

BODY = {
    "domains": [{"domainName": "example.com", "years": 1}],
    "mailboxes": {
        "example.com": [
            {"firstName": "Ada", "lastName": "Lovelace", "mailboxUsername": "ada"},
            {"firstName": "Alan", "lastName": "Turing", "mailboxUsername": "alan"},
        ]
    },
    "useWallet": True,
}


@pytest.fixture
def api(make_client: Callable[..., TestClient]) -> Iterator[TestClient]:
    with FakePorkbun() as fake:
        yield make_client(
            registrar="porkbun",
            porkbun_api_key=API_KEY,
            porkbun_secret_api_key=SECRET,
            porkbun_api_base=fake.base_url,
            domain_price_markup_percent=25,
        )


def test_quick_setup_buys_the_domains_and_says_the_mailboxes_are_not_placed(
    db: Database, api: TestClient
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)

    response = api.post(f"{API}/v2/quick-setup", json=BODY, headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"].startswith("Domains purchased. Mailboxes are not placed")
    data = body["data"]
    assert [(d["domainName"], d["price"]) for d in data["domains"]] == [("example.com", PRICE)]
    assert data["mailboxes"] == [{"domainName": "example.com", "requested": 2, "placed": 0}]
    assert balance(db, owner.workspace_id) == 10_000 - 1385
    assert count(db, DomainPurchase, owner.workspace_id) == 1
    assert count(db, Mailbox, owner.workspace_id) == 0


def test_mailboxes_for_a_domain_not_bought_are_422_and_buy_nothing(
    db: Database, api: TestClient
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    body = {**BODY, "mailboxes": {"other.com": BODY["mailboxes"]["example.com"]}}  # type: ignore[index]

    response = api.post(f"{API}/v2/quick-setup", json=body, headers=owner.zapmail_headers)

    assert response.status_code == 422, response.text
    assert response.json()["data"] is None
    assert balance(db, owner.workspace_id) == 10_000
    assert count(db, DomainPurchase, owner.workspace_id) == 0
