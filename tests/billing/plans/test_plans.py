"""Plans: the seeded table, operator create / change (a new version) / retire, and roles."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.billing.plans.seed import table
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.models import Plan
from tests.factories import count_rows, fund_wallet, make_tenant, seed_plans


def test_the_seed_is_zapmails_table_and_idempotent(db: Database) -> None:
    seed_plans(db)
    seed_plans(db)
    assert count_rows(db, Plan) == 36
    specs = {spec.lookup_key: spec for spec in table(Settings())}
    assert specs["google_pro_quarterly"].price_cents == 81000
    assert specs["microsoft_growth_yearly"].addon_price_cents == 3300
    # SMTP: 300 cents per slot per month, Zapmail's discount for the period and tier.
    assert specs["smtp_starter_monthly"].price_cents == 300 * 10
    assert specs["smtp_starter_quarterly"].price_cents == 300 * 10 * 3 * 10500 // (3900 * 3)
    assert specs["smtp_dedicated_pro_yearly"].price_cents == 600 * 100 * 12 * 300000 // (29900 * 12)


def test_unified_provider_plans_cover_both_types() -> None:
    specs = {spec.lookup_key: spec for spec in table(Settings(billing_unified_provider=True))}
    assert set(specs["google_starter_monthly"].mailbox_types) == {"GOOGLE", "MICROSOFT"}
    assert [t.value for t in specs["smtp_starter_monthly"].mailbox_types] == ["SMTP"]


def test_operators_create_change_and_retire_plans(db: Database, client: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    owner = make_tenant(db)
    body = {
        "lookup_key": "custom_smtp_big",
        "name": "Big SMTP",
        "tier": "CUSTOM",
        "period": "MONTHLY",
        "mailbox_types": ["SMTP"],
        "slots": 500,
        "price_cents": 50_000,
        "addon_price_cents": 90,
    }
    created = client.post("/v1/operator/plans", json=body, headers=operator.headers)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert created.json()["currency"] == "USD"
    duplicate = client.post("/v1/operator/plans", json=body, headers=operator.headers)
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "plan_exists"
    fund_wallet(db, owner.workspace_id, 200_000)
    bought = client.post(
        "/v1/subscriptions", json={"lookup_key": "custom_smtp_big"}, headers=owner.headers
    ).json()
    changed = client.patch(
        "/v1/operator/plans/custom_smtp_big", json={"price_cents": 60_000}, headers=operator.headers
    )
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    assert changed.json()["price_cents"] == 60_000
    # The subscriber keeps the version and price it bought.
    kept = client.get(f"/v1/subscriptions/{bought['id']}", headers=owner.headers).json()
    assert kept["price_cents"] == 50_000
    assert kept["plan_id"] == created.json()["id"]
    listed = client.get("/v1/plans", headers=owner.headers).json()["items"]
    assert [(p["lookup_key"], p["version"]) for p in listed] == [("custom_smtp_big", 2)]
    retired = client.post("/v1/operator/plans/custom_smtp_big/retire", headers=operator.headers)
    assert retired.json()["status"] == "RETIRED"
    assert client.get("/v1/plans", headers=owner.headers).json()["items"] == []
    refused = client.post("/v1/operator/plans", json=body, headers=owner.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "operator_required"


def test_a_change_to_an_unknown_plan_is_404(db: Database, client: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    response = client.patch(
        "/v1/operator/plans/missing", json={"slots": 3}, headers=operator.headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "plan_not_found"
