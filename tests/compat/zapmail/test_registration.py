"""Zapmail's domain search and purchase: availability through the local registrar fake, the
workspace's search quota with the documented 429 body, purchases debited once from the wallet,
a payment link (Stripe fake) otherwise, and refused requests that change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import DomainPurchase, Role, Wallet, WalletEntry
from tests.billing.payments.conftest import post_event
from tests.factories import fund_wallet, make_member, make_tenant
from tests.fakes.porkbun import FakePorkbun
from tests.support.fake_stripe import FakeStripe

API = "/zapmail/api"
# The fake's price of a free name is $11.08; with a 25% markup Mailfleet sells it at $13.85.
PRICE = 13.85


def balance(db: Database, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        found = session.scalar(
            select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id)
        )
        return int(found or 0)


def count(db: Database, model: Any, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        statement = select(func.count()).select_from(model)
        return int(session.scalar(statement.where(model.workspace_id == workspace_id)) or 0)


# --- availability ---------------------------------------------------------------------------


def test_bulk_availability_answers_each_name_in_order(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)

    response = api.post(
        f"{API}/v2/domains/available-bulk",
        json={"domainNames": ["Free.com", "taken.com", "gold.com", "not a name"], "years": 2},
        headers=owner.zapmail_headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["status", "message", "data"]
    assert (body["status"], body["message"]) == (200, "Domain availability fetched successfully")
    assert [
        (i["domainName"], i["available"], i["premium"], i["verdict"]) for i in body["data"]
    ] == [
        ("free.com", True, False, "AVAILABLE"),
        ("taken.com", False, False, "TAKEN"),
        ("gold.com", False, True, "PREMIUM"),
        ("not a name", False, False, "UNSUPPORTED"),
    ]
    first = body["data"][0]
    assert list(first) == [
        "domainName",
        "available",
        "premium",
        "verdict",
        "years",
        "price",
        "renewalPrice",
        "currency",
        "reason",
    ]
    assert (first["years"], first["price"], first["currency"]) == (2, PRICE * 2, "USD")
    assert body["data"][3]["reason"]


def test_bulk_takes_the_specs_comma_separated_string(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)

    response = api.post(
        f"{API}/v2/domains/available-bulk",
        json={"domainNames": "free.com, taken.com"},
        headers=owner.zapmail_headers,
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [(i["domainName"], i["available"], i["years"]) for i in data] == [
        ("free.com", True, 1),
        ("taken.com", False, 1),
    ]
    assert data[0]["price"] == PRICE


def test_bulk_refuses_more_than_20_names_and_duplicates_before_any_check(
    db: Database, api: TestClient, porkbun: FakePorkbun
) -> None:
    owner = make_tenant(db)

    many = api.post(
        f"{API}/v2/domains/available-bulk",
        json={"domainNames": [f"n{i}.com" for i in range(21)]},
        headers=owner.zapmail_headers,
    )
    twice = api.post(
        f"{API}/v2/domains/available-bulk",
        json={"domainNames": ["a.com", "A.com"]},
        headers=owner.zapmail_headers,
    )
    empty = api.post(
        f"{API}/v2/domains/available-bulk", json={"domainNames": ""}, headers=owner.zapmail_headers
    )

    assert many.status_code == 422
    assert many.json()["data"] is None
    assert twice.status_code == 422
    assert (twice.json()["code"], twice.json()["field"]) == ("duplicate_names", "domainNames[1]")
    assert empty.status_code == 422
    assert porkbun.log == []


def test_search_answers_the_name_other_tlds_and_similar_names(
    db: Database, api: TestClient
) -> None:
    owner = make_tenant(db)

    response = api.post(
        f"{API}/v2/domains/available",
        json={"domainName": "free.com", "tlds": ["io", ".net", "com"]},
        headers=owner.zapmail_headers,
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert list(data) == [
        "domainName",
        "available",
        "premium",
        "years",
        "price",
        "currency",
        "alternatives",
        "suggestions",
    ]
    assert (data["domainName"], data["available"], data["price"]) == ("free.com", True, PRICE)
    assert [a["domainName"] for a in data["alternatives"]] == ["free.io", "free.net"]
    assert [s["domainName"] for s in data["suggestions"]] == [
        "getfree.com",
        "tryfree.com",
        "freehq.com",
        "freemail.com",
    ]


def test_searches_are_10_per_30_minutes_with_the_documented_429_body(
    db: Database, selling: Callable[..., TestClient]
) -> None:
    api = selling(domain_search_limit=10, domain_search_window_minutes=30)
    owner, other = make_tenant(db), make_tenant(db)
    bulk = {"domainNames": ["free.com"]}
    for _ in range(5):
        ok = api.post(f"{API}/v2/domains/available-bulk", json=bulk, headers=owner.zapmail_headers)
        assert ok.status_code == 200
        ok = api.post(
            f"{API}/v2/domains/available",
            json={"domainName": "free.com"},
            headers=owner.zapmail_headers,
        )
        assert ok.status_code == 200

    refused = api.post(f"{API}/v2/domains/available-bulk", json=bulk, headers=owner.zapmail_headers)

    assert refused.status_code == 429
    assert refused.json() == {"status": 429, "message": "Too many requests"}
    # The quota is the workspace's, shared with the native API, not another workspace's.
    native = api.get("/v1/domain-availability?name=free.com", headers=owner.headers)
    assert native.status_code == 429
    other_ok = api.post(
        f"{API}/v2/domains/available-bulk", json=bulk, headers=other.zapmail_headers
    )
    assert other_ok.status_code == 200


def test_a_viewer_cannot_search(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, role=Role.VIEWER)

    response = api.post(
        f"{API}/v2/domains/available-bulk",
        json={"domainNames": ["free.com"]},
        headers=viewer.zapmail_headers,
    )

    assert response.status_code == 403
    assert response.json()["data"] is None


# --- purchase -------------------------------------------------------------------------------

BUY_EXAMPLE = {
    "domains": [
        {"domainName": "example.com", "years": 1},
        {"domainName": "example.io", "years": 1},
    ],
    "useWallet": True,
    "enableDnsShield": True,
}


def test_the_documented_buy_example_debits_the_wallet_once(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)

    response = api.post(f"{API}/v2/domains/buy", json=BUY_EXAMPLE, headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["message"]) == (200, "Domains purchased successfully")
    data = body["data"]
    assert [(d["domainName"], d["years"], d["status"], d["price"]) for d in data["domains"]] == [
        ("example.com", 1, "PENDING", PRICE),
        ("example.io", 1, "PENDING", PRICE),
    ]
    assert (data["totalAmount"], data["currency"], data["paidFromWallet"]) == (
        PRICE * 2,
        "USD",
        True,
    )
    assert data["paymentLink"] is None
    assert data["walletBalance"] == {
        "previousBalance": 100.0,
        "amountDeducted": 27.7,
        "currentBalance": 72.3,
    }
    assert balance(db, owner.workspace_id) == 10_000 - 2770
    # One funding entry, one debit for both names.
    assert count(db, WalletEntry, owner.workspace_id) == 2
    assert count(db, DomainPurchase, owner.workspace_id) == 2


def test_more_years_than_the_registrar_sells_buys_nothing(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    body = {
        "domains": [{"domainName": "one.com"}, {"domainName": "three.com", "years": 3}],
        "useWallet": True,
    }

    response = api.post(f"{API}/v2/domains/buy", json=body, headers=owner.zapmail_headers)

    # Porkbun registers for one year at a time.
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == (
        "too_many_years",
        "domains[1].years",
    )
    assert balance(db, owner.workspace_id) == 10_000
    assert count(db, DomainPurchase, owner.workspace_id) == 0


def test_a_name_not_for_sale_buys_nothing(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    body = {
        "domains": [{"domainName": "free.com"}, {"domainName": "taken.com"}],
        "useWallet": True,
    }

    response = api.post(f"{API}/v2/domains/buy", json=body, headers=owner.zapmail_headers)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "names_not_for_sale"
    assert response.json()["field"] == "domains[1].domainName"
    assert balance(db, owner.workspace_id) == 10_000
    assert count(db, DomainPurchase, owner.workspace_id) == 0


def test_without_the_wallet_the_answer_is_a_payment_link_for_the_amount(
    db: Database, api: TestClient, stripe_fake: FakeStripe
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    body = {**BUY_EXAMPLE, "useWallet": False}

    response = api.post(f"{API}/v2/domains/buy", json=body, headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["message"] == "Payment link generated successfully"
    data = answer["data"]
    assert data["paymentLink"].startswith("https://checkout.stripe.com/")
    assert (data["paidFromWallet"], data["totalAmount"], data["walletBalance"]) == (
        False,
        PRICE * 2,
        None,
    )
    assert [d["domainName"] for d in data["domains"]] == ["example.com", "example.io"]
    (session,) = stripe_fake.sessions.values()
    assert session["_params"]["line_items"][0]["price_data"]["unit_amount"] == "2770"
    # Nothing is debited until the link is paid.
    assert balance(db, owner.workspace_id) == 10_000
    assert count(db, DomainPurchase, owner.workspace_id) == 0


def test_a_short_wallet_answers_a_link_for_the_shortfall(
    db: Database, api: TestClient, stripe_fake: FakeStripe
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 1_000)

    response = api.post(f"{API}/v2/domains/buy", json=BUY_EXAMPLE, headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["paidFromWallet"] is False
    (session,) = stripe_fake.sessions.values()
    assert session["_params"]["line_items"][0]["price_data"]["unit_amount"] == "1770"
    assert balance(db, owner.workspace_id) == 1_000
    paid = stripe_fake.complete(session["id"])
    assert post_event(api, stripe_fake, "checkout.session.completed", paid).status_code == 200
    assert balance(db, owner.workspace_id) == 2_770


def test_without_a_payment_provider_the_link_is_refused(
    db: Database, selling: Callable[..., TestClient]
) -> None:
    api = selling(payments_provider="none")
    owner = make_tenant(db)

    response = api.post(
        f"{API}/v2/domains/buy",
        json={**BUY_EXAMPLE, "useWallet": False},
        headers=owner.zapmail_headers,
    )

    # A native 409 (a rule refusal) is Zapmail's 400.
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "payments_not_configured"
    assert count(db, DomainPurchase, owner.workspace_id) == 0


def test_bad_buy_bodies_are_422(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    for body in (
        {},
        {"domains": []},
        {"domains": [{"domainName": "a.com", "years": 0}]},
        {"domains": [{"domainName": "a.com", "years": "1"}]},
        {"domains": [{"domainName": f"n{i}.com"} for i in range(21)]},
        {"domains": "a.com"},
    ):
        response = api.post(f"{API}/v2/domains/buy", json=body, headers=owner.zapmail_headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["data"] is None
