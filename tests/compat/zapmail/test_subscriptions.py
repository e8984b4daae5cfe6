"""Zapmail's subscription endpoints: the list's documented fields, purchase from the wallet
only (refused when short, nothing charged), cancel and its undo, upgrade by lookup key."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import MailboxType, Subscription, WalletEntry
from tests.factories import (
    fund_wallet,
    make_domain,
    make_mailbox,
    make_subscription,
    make_tenant,
    seed_plans,
)

API = "/zapmail/api"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _count(db: Database, model: Any) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_list_has_the_documented_fields(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    make_subscription(db, owner.workspace_id)

    for path in ("/v2/subscriptions?status=ACTIVE", "/v1/user/subscriptions"):
        response = client.get(f"{API}{path}", headers=owner.zapmail_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["message"] == "User subscriptions"
        [item] = body["data"]
        assert list(item)[:12] == [
            "id",
            "subscriptionId",
            "subscriptionStatus",
            "plan",
            "price",
            "totalMailboxQuantity",
            "periodStart",
            "periodEnd",
            "subscriptionCreationDate",
            "planUpgradeCancelPossible",
            "paymentFailureMessage",
            "invoiceDetails",
        ]
        assert item["subscriptionId"].startswith("sub_")
        assert (item["subscriptionStatus"], item["plan"]) == ("ACTIVE", "Google Starter (monthly)")
        assert (item["price"], item["totalMailboxQuantity"]) == (39, 10)
        assert item["planUpgradeCancelPossible"] is True
        assert ISO_MS.match(item["periodEnd"])
        assert "/v1/invoices/" in item["invoiceDetails"]
    cancelled = client.get(
        f"{API}/v2/subscriptions?status=CANCELLED", headers=owner.zapmail_headers
    )
    assert cancelled.json()["data"] == []
    bad = client.get(f"{API}/v2/subscriptions?status=LOST", headers=owner.zapmail_headers)
    assert bad.status_code == 422


def test_purchase_from_the_wallet_reports_the_move(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)

    response = client.post(
        f"{API}/v2/subscriptions/purchase",
        json={"lookupKey": "google_starter_monthly"},
        headers=owner.zapmail_headers,
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["walletBalance"] == {
        "previousBalance": 100.0,
        "amountDeducted": 39.0,
        "currentBalance": 61.0,
    }
    assert list(data) == ["subscription", "invoice", "walletBalance"]
    assert data["subscription"]["plan"] == "Google Starter (monthly)"
    invoice = data["invoice"]
    assert list(invoice) == ["invoiceId", "number", "invoiceUrl", "amount", "currency", "status"]
    assert (invoice["amount"], invoice["currency"], invoice["status"]) == (39.0, "USD", "paid")
    assert invoice["invoiceUrl"].endswith(f"/v1/invoices/{invoice['invoiceId']}.html")
    assert data["subscription"]["invoiceDetails"] == invoice["invoiceUrl"]
    page = client.get(invoice["invoiceUrl"], headers=owner.headers)
    assert page.status_code == 200
    assert invoice["number"] in page.text
    users = client.get(f"{API}/v2/users", headers=owner.zapmail_headers).json()["data"]
    assert (users["activePlan"], users["purchasedMailboxes"]) == ("Google Starter (monthly)", 10)


def test_a_short_wallet_buys_nothing(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 1_000)
    entries = _count(db, WalletEntry)

    refused = client.post(
        f"{API}/v2/subscriptions/purchase",
        json={"lookupKey": "google_starter_monthly"},
        headers=owner.zapmail_headers,
    )

    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "insufficient_funds"
    assert _count(db, Subscription) == 0
    assert _count(db, WalletEntry) == entries


def test_cancel_and_revert_are_one_call(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    make_subscription(db, owner.workspace_id)
    sub_id = client.get(f"{API}/v2/subscriptions", headers=owner.zapmail_headers).json()["data"][0][
        "subscriptionId"
    ]
    url = f"{API}/v2/subscriptions/cancel"

    cancel = client.post(
        url,
        json={"subscriptionId": sub_id, "revertCancellation": False},
        headers=owner.zapmail_headers,
    )
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["data"]["planUpgradeCancelPossible"] is False
    revert = client.post(
        url,
        json={"subscriptionId": sub_id, "revertCancellation": True},
        headers=owner.zapmail_headers,
    )
    assert revert.status_code == 200, revert.text
    assert revert.json()["data"]["planUpgradeCancelPossible"] is True
    missing = client.post(url, json={"subscriptionId": sub_id}, headers=owner.zapmail_headers)
    assert missing.status_code == 422


def test_upgrade_takes_lookup_key_or_unique_plan_key(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    make_subscription(db, owner.workspace_id)
    fund_wallet(db, owner.workspace_id, 50_000)
    sub_id = client.get(f"{API}/v2/subscriptions", headers=owner.zapmail_headers).json()["data"][0][
        "subscriptionId"
    ]

    upgraded = client.post(
        f"{API}/v2/subscriptions/upgrade",
        json={"uniquePlanKey": "google_growth_monthly", "subscriptionId": sub_id},
        headers=owner.zapmail_headers,
    )

    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["data"]["plan"] == "Google Growth (monthly)"
    neither = client.post(
        f"{API}/v2/subscriptions/upgrade",
        json={"subscriptionId": sub_id},
        headers=owner.zapmail_headers,
    )
    assert neither.status_code == 422


def test_mailboxes_in_a_subscription(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    subscription = make_subscription(db, owner.workspace_id)
    domain = make_domain(db, owner.workspace_id)
    google = make_mailbox(db, domain)
    make_mailbox(db, make_domain(db, owner.workspace_id), mailbox_type=MailboxType.MICROSOFT)

    response = client.post(
        f"{API}/v2/subscriptions/mailboxes",
        json={"subscriptionId": str(subscription)},
        headers=owner.zapmail_headers,
    )

    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["data"]] == [str(google)]
    stranger = make_tenant(db)
    hidden = client.post(
        f"{API}/v2/subscriptions/mailboxes",
        json={"subscriptionId": str(subscription)},
        headers=stranger.zapmail_headers,
    )
    assert hidden.status_code == 404


def test_purchase_by_plan_name_cycle_and_provider(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 50_000)
    headers = {**owner.zapmail_headers, "x-service-provider": "MICROSOFT"}

    by_header = client.post(
        f"{API}/v2/subscriptions/purchase",
        json={"planName": "starter", "billingCycle": "QUARTERLY"},
        headers=headers,
    )
    by_body = client.post(
        f"{API}/v2/subscriptions/purchase",
        json={"planName": "GROWTH", "billingCycle": "MONTHLY", "serviceProvider": "GOOGLE"},
        headers=headers,
    )

    assert by_header.status_code == 200, by_header.text
    bought = by_header.json()["data"]
    assert bought["subscription"]["lookupKey"] == "microsoft_starter_quarterly"
    assert bought["walletBalance"]["amountDeducted"] == 105.0
    assert by_body.status_code == 200, by_body.text
    assert by_body.json()["data"]["subscription"]["lookupKey"] == "google_growth_monthly"


def test_a_purchase_naming_no_plan_is_422_and_charges_nothing(
    db: Database, client: TestClient
) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 50_000)
    entries = _count(db, WalletEntry)

    for body in ({}, {"planName": "STARTER"}, {"planName": "GIANT", "billingCycle": "MONTHLY"}):
        refused = client.post(
            f"{API}/v2/subscriptions/purchase", json=body, headers=owner.zapmail_headers
        )
        assert refused.status_code == 422, refused.text
    unknown = client.post(
        f"{API}/v2/subscriptions/purchase",
        json={"lookupKey": "nope_monthly"},
        headers=owner.zapmail_headers,
    )

    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["code"] == "plan_not_found"
    assert _count(db, Subscription) == 0
    assert _count(db, WalletEntry) == entries
