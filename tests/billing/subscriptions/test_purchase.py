"""Buying a plan: paid from the wallet only, one invoice, slots counted, dry runs change nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import (
    Event,
    Invoice,
    MailboxType,
    Role,
    Subscription,
    SubscriptionPeriod,
    Wallet,
    WalletEntry,
)
from tests.factories import count_rows, fund_wallet, make_member, make_tenant, seed_plans

STARTER = "google_starter_monthly"


def balance(db: Database, workspace_id: object) -> int:
    with db.transaction(write=False) as session:
        return int(
            session.scalar(select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id))
            or 0
        )


def test_a_purchase_debits_the_wallet_and_opens_a_period(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 5000)
    response = client.post("/v1/subscriptions", json={"lookup_key": STARTER}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["public_id"].startswith("sub_")
    assert len(body["public_id"]) == 28
    assert body["status"] == "ACTIVE"
    assert body["slots"] == 10
    assert body["price_cents"] == 3900
    assert body["currency"] == "USD"
    assert body["renews_at"] == body["current_period_end"]
    assert len(body["periods"]) == 1
    assert body["periods"][0]["amount_cents"] == 3900
    assert [i["total_cents"] for i in body["invoices"]] == [3900]
    assert balance(db, owner.workspace_id) == 1100
    overview = client.get("/v1/account", headers=owner.headers).json()
    google = overview["allocations"]["GOOGLE"]
    assert google["allocated"] == 10
    # The same subscription by its public id.
    again = client.get(f"/v1/subscriptions/{body['public_id']}", headers=owner.headers)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]


def test_a_short_wallet_is_refused_naming_the_shortfall(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 1000)
    response = client.post("/v1/subscriptions", json={"lookup_key": STARTER}, headers=owner.headers)
    assert response.status_code == 402, response.text
    assert response.json()["code"] == "insufficient_funds"
    assert "29.00 USD more" in response.json()["detail"]
    assert count_rows(db, Subscription) == 0
    assert count_rows(db, Invoice) == 0
    assert balance(db, owner.workspace_id) == 1000


def test_unknown_and_retired_plans_are_refused(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    operator = make_tenant(db, operator=True)
    fund_wallet(db, owner.workspace_id, 50_000)
    unknown = client.post("/v1/subscriptions", json={"lookup_key": "nope"}, headers=owner.headers)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "plan_not_found"
    retired = client.post(f"/v1/operator/plans/{STARTER}/retire", headers=operator.headers)
    assert retired.status_code == 200
    assert retired.json()["status"] == "RETIRED"
    response = client.post("/v1/subscriptions", json={"lookup_key": STARTER}, headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "plan_retired"
    assert count_rows(db, Subscription) == 0


def test_a_plan_in_another_currency_is_refused(db: Database, client: TestClient) -> None:
    seed_plans(db, billing_currency="EUR")
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 50_000)  # a USD wallet
    response = client.post("/v1/subscriptions", json={"lookup_key": STARTER}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "currency_mismatch"
    assert count_rows(db, Subscription) == 0


def test_a_dry_run_quotes_and_changes_nothing(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 1000)
    with db.transaction(write=False) as session:
        events_before = session.scalar(select(func.count()).select_from(Event))
    for request in (
        {"json": {"lookup_key": STARTER, "dry_run": True}},
        {"json": {"lookup_key": STARTER}, "params": {"dry_run": "true"}},
    ):
        response = client.post("/v1/subscriptions", headers=owner.headers, **request)
        assert response.status_code == 200, response.text
        quote = response.json()
        assert quote["total_cents"] == 3900
        assert quote["subtotal_cents"] == 3900
        assert quote["credit_cents"] == 0
        assert quote["currency"] == "USD"
        assert quote["balance_cents"] == 1000
        assert quote["shortfall_cents"] == 2900
        assert [r["code"] for r in quote["refusals"]] == ["insufficient_funds"]
        assert quote["lines"][0]["amount_cents"] == 3900
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Event)) == events_before
    assert count_rows(db, Subscription) == 0
    assert count_rows(db, WalletEntry) == 1  # the funding only


def test_a_dry_run_without_a_wallet_makes_none(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    response = client.post(
        "/v1/subscriptions", json={"lookup_key": STARTER, "dry_run": True}, headers=owner.headers
    )
    assert response.status_code == 200
    assert response.json()["shortfall_cents"] == 3900
    assert count_rows(db, Wallet) == 0


def test_a_retried_purchase_with_the_same_key_charges_once(
    db: Database, client: TestClient
) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    headers = {**owner.headers, "Idempotency-Key": "buy-once"}
    first = client.post("/v1/subscriptions", json={"lookup_key": STARTER}, headers=headers)
    second = client.post("/v1/subscriptions", json={"lookup_key": STARTER}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert count_rows(db, Subscription) == 1
    assert count_rows(db, SubscriptionPeriod) == 1
    assert balance(db, owner.workspace_id) == 10_000 - 3900


def test_a_viewer_reads_but_cannot_buy(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    viewer = make_member(db, owner, Role.VIEWER)
    refused = client.post("/v1/subscriptions", json={"lookup_key": STARTER}, headers=viewer.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_role"
    bought = client.post("/v1/subscriptions", json={"lookup_key": STARTER}, headers=owner.headers)
    assert bought.status_code == 201
    listed = client.get("/v1/subscriptions", headers=viewer.headers)
    assert [s["id"] for s in listed.json()["items"]] == [bought.json()["id"]]
    assert client.get("/v1/plans", headers=viewer.headers).status_code == 200


def test_plans_are_listed_and_filtered(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    everything = client.get("/v1/plans", headers=owner.headers).json()["items"]
    assert len(everything) == 4 * 3 * 3
    google = client.get(
        "/v1/plans", params={"mailbox_type": "GOOGLE", "period": "YEARLY"}, headers=owner.headers
    ).json()["items"]
    assert {p["lookup_key"]: p["price_cents"] for p in google} == {
        "google_growth_yearly": 99000,
        "google_pro_yearly": 300000,
        "google_starter_yearly": 39000,
    }
    assert all(p["mailbox_types"] == [MailboxType.GOOGLE.value] for p in google)
