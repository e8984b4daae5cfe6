"""Cancel / revert at every state, notes, upgrades with day proration, add-on slots."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.billing.subscriptions import transitions
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import (
    AddonSlots,
    Event,
    Invoice,
    MailboxType,
    Subscription,
    SubscriptionStatus,
    Wallet,
    WalletEntry,
)
from tests.factories import (
    Caller,
    count_rows,
    fund_wallet,
    make_domain,
    make_mailbox,
    make_subscription,
    make_tenant,
    seed_plans,
)

STARTER, GROWTH = "google_starter_monthly", "google_growth_monthly"


def set_clock(moment: datetime) -> None:
    clock.reset()
    clock.advance((moment - clock.now()).total_seconds())


def buy(db: Database, client: TestClient, owner: Caller, key: str = STARTER) -> dict:
    fund_wallet(db, owner.workspace_id, 100_000)
    response = client.post("/v1/subscriptions", json={"lookup_key": key}, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


def force_status(db: Database, subscription_id: str, status: SubscriptionStatus) -> None:
    with db.transaction() as session:
        row = session.get(Subscription, uuid.UUID(subscription_id))
        assert row is not None
        transitions.move(session, row, status, actor="test", reason="test")


def wallet_balance(db: Database, owner: Caller) -> int:
    with db.transaction(write=False) as session:
        found = session.scalar(
            select(Wallet.balance_cents).where(Wallet.workspace_id == owner.workspace_id)
        )
        return int(found or 0)


def test_cancel_then_revert_then_cancel_twice(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    sub = buy(db, client, owner)
    url = f"/v1/subscriptions/{sub['public_id']}/cancel"
    cancelled = client.post(url, json={}, headers=owner.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["cancel_at_period_end"] is True
    assert cancelled.json()["status"] == "ACTIVE"
    assert cancelled.json()["renews_at"] == sub["renews_at"]
    again = client.post(url, json={"revert": False}, headers=owner.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "cancellation_already_scheduled"
    reverted = client.post(url, json={"revert": True}, headers=owner.headers)
    assert reverted.status_code == 200
    assert reverted.json()["cancel_at_period_end"] is False
    twice = client.post(url, json={"revert": True}, headers=owner.headers)
    assert twice.status_code == 409
    assert twice.json()["code"] == "cancellation_not_scheduled"


@pytest.mark.parametrize("status", [SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED])
@pytest.mark.parametrize("revert", [False, True])
def test_a_finished_subscription_cannot_be_cancelled_or_reverted(
    db: Database, client: TestClient, status: SubscriptionStatus, revert: bool
) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    sub = buy(db, client, owner)
    force_status(db, sub["id"], status)
    response = client.post(
        f"/v1/subscriptions/{sub['id']}/cancel", json={"revert": revert}, headers=owner.headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "subscription_status_conflict"


def test_a_past_due_subscription_can_be_cancelled(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    sub = buy(db, client, owner)
    force_status(db, sub["id"], SubscriptionStatus.PAST_DUE)
    response = client.post(f"/v1/subscriptions/{sub['id']}/cancel", json={}, headers=owner.headers)
    assert response.status_code == 200
    assert response.json()["cancel_at_period_end"] is True


def test_notes_are_set_searched_and_cleared(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    sub = buy(db, client, owner)
    other = buy(db, client, owner, GROWTH)
    patched = client.patch(
        f"/v1/subscriptions/{sub['id']}", json={"notes": "Client ACME"}, headers=owner.headers
    )
    assert patched.status_code == 200
    assert patched.json()["notes"] == "Client ACME"
    found = client.get("/v1/subscriptions", params={"q": "acme"}, headers=owner.headers).json()
    assert [s["id"] for s in found["items"]] == [sub["id"]]
    by_plan = client.get("/v1/subscriptions", params={"q": "Growth"}, headers=owner.headers)
    assert [s["id"] for s in by_plan.json()["items"]] == [other["id"]]
    cleared = client.patch(
        f"/v1/subscriptions/{sub['id']}", json={"notes": None}, headers=owner.headers
    )
    assert cleared.json()["notes"] is None
    with db.transaction(write=False) as session:
        types = session.scalars(select(Event.type).where(Event.subject_type == "subscription"))
        assert list(types).count("subscription.notes_updated") == 2


def test_list_filters_by_status_and_pages(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    first = buy(db, client, owner)
    second = buy(db, client, owner)
    force_status(db, first["id"], SubscriptionStatus.EXPIRED)
    active = client.get("/v1/subscriptions", params={"status": "ACTIVE"}, headers=owner.headers)
    assert [s["id"] for s in active.json()["items"]] == [second["id"]]
    page = client.get("/v1/subscriptions", params={"limit": 1}, headers=owner.headers).json()
    assert [s["id"] for s in page["items"]] == [second["id"]]
    rest = client.get(
        "/v1/subscriptions",
        params={"limit": 1, "cursor": page["next_cursor"]},
        headers=owner.headers,
    ).json()
    assert [s["id"] for s in rest["items"]] == [first["id"]]


def upgrade_at(
    db: Database, client: TestClient, bought_at: datetime, upgrade_at: datetime
) -> tuple[dict, dict, Caller]:
    seed_plans(db)
    owner = make_tenant(db)
    set_clock(bought_at)
    old = buy(db, client, owner)
    set_clock(upgrade_at)
    response = client.post(
        f"/v1/subscriptions/{old['id']}/upgrade",
        json={"lookup_key": GROWTH, "dry_run": True},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    return old, response.json(), owner


def test_an_upgrade_on_the_first_day_credits_the_whole_old_price(
    db: Database, client: TestClient
) -> None:
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    _, quote, _ = upgrade_at(db, client, start, start + timedelta(hours=5))
    assert [line["amount_cents"] for line in quote["lines"]] == [9900, -3900]
    assert "31 of 31 days" in quote["lines"][1]["description"]
    assert quote["credit_cents"] == 3900
    assert quote["total_cents"] == 6000


def test_an_upgrade_on_the_last_day_credits_one_day(db: Database, client: TestClient) -> None:
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    _, quote, _ = upgrade_at(db, client, start, datetime(2025, 3, 31, 20, tzinfo=UTC))
    assert quote["lines"][1]["amount_cents"] == -(3900 // 31)
    assert "1 of 31 days" in quote["lines"][1]["description"]


def test_an_upgrade_in_a_leap_february_counts_29_days(db: Database, client: TestClient) -> None:
    start = datetime(2024, 2, 1, 9, tzinfo=UTC)
    _, quote, _ = upgrade_at(db, client, start, datetime(2024, 2, 15, 10, tzinfo=UTC))
    # 14 whole days used of 29: 15 left.
    assert quote["lines"][1]["amount_cents"] == -(3900 * 15 // 29)
    assert "15 of 29 days" in quote["lines"][1]["description"]


def test_an_upgrade_replaces_the_subscription(db: Database, client: TestClient) -> None:
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    old, quote, owner = upgrade_at(db, client, start, start + timedelta(days=10, hours=1))
    before = wallet_balance(db, owner)
    response = client.post(
        f"/v1/subscriptions/{old['id']}/upgrade", json={"lookup_key": GROWTH}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["lookup_key"] == GROWTH
    assert new["slots"] == 30
    assert wallet_balance(db, owner) == before - quote["total_cents"]
    replaced = client.get(f"/v1/subscriptions/{old['id']}", headers=owner.headers).json()
    assert replaced["status"] == "EXPIRED"
    assert replaced["replaced_by_id"] == new["id"]
    invoice = new["invoices"][0]
    assert invoice["total_cents"] == quote["total_cents"]
    overview = client.get("/v1/account", headers=owner.headers).json()
    assert overview["allocations"]["GOOGLE"]["allocated"] == 30


def test_a_downgrade_below_the_slots_held_is_refused(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    sub = buy(db, client, owner, GROWTH)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    for _ in range(11):
        make_mailbox(db, domain)
    response = client.post(
        f"/v1/subscriptions/{sub['id']}/upgrade",
        json={"lookup_key": STARTER},
        headers=owner.headers,
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "downgrade_below_usage"
    quote = client.post(
        f"/v1/subscriptions/{sub['id']}/upgrade",
        json={"lookup_key": STARTER, "dry_run": True},
        headers=owner.headers,
    ).json()
    assert [r["code"] for r in quote["refusals"]] == ["downgrade_below_usage"]


def test_add_on_slots_are_prorated_and_removed_at_period_end(
    db: Database, client: TestClient
) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    set_clock(datetime(2025, 4, 1, 9, tzinfo=UTC))
    sub = buy(db, client, owner)
    set_clock(datetime(2025, 4, 11, 10, tzinfo=UTC))  # 10 days used of 30: 20 left
    url = f"/v1/subscriptions/{sub['id']}/addons"
    body = {"mailbox_type": "GOOGLE", "quantity": 3}
    quote = client.post(url, json={**body, "dry_run": True}, headers=owner.headers).json()
    assert quote["total_cents"] == 350 * 3 * 20 // 30
    before = wallet_balance(db, owner)
    added = client.post(url, json=body, headers=owner.headers)
    assert added.status_code == 201, added.text
    assert wallet_balance(db, owner) == before - quote["total_cents"]
    overview = client.get("/v1/account", headers=owner.headers).json()
    assert overview["allocations"]["GOOGLE"]["allocated"] == 13
    addon_id = added.json()["id"]
    removed = client.delete(f"{url}/{addon_id}", headers=owner.headers)
    assert removed.status_code == 200
    assert removed.json()["renew"] is False
    # Paid until the period end: still counted.
    overview = client.get("/v1/account", headers=owner.headers).json()
    assert overview["allocations"]["GOOGLE"]["allocated"] == 13
    with db.transaction(write=False) as session:
        kinds = session.scalars(
            select(Invoice.kind).where(Invoice.workspace_id == owner.workspace_id)
        )
        assert sorted(k.value for k in kinds) == ["ADDON", "PURCHASE"]


def test_add_ons_of_a_type_the_plan_does_not_cover_are_refused(
    db: Database, client: TestClient
) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    sub = buy(db, client, owner)
    response = client.post(
        f"/v1/subscriptions/{sub['id']}/addons",
        json={"mailbox_type": "SMTP", "quantity": 1},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "addon_type_not_covered"


def test_the_factory_subscription_counts_for_the_quota(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    make_subscription(db, owner.workspace_id, "smtp_growth_monthly")
    overview = client.get("/v1/account", headers=owner.headers).json()
    assert overview["allocations"]["SMTP"]["allocated"] == 30


def test_upgrade_and_add_on_dry_runs_change_nothing(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    sub = buy(db, client, owner)
    tables = (Event, Invoice, Subscription, WalletEntry, AddonSlots)

    def counts() -> list[int]:
        return [count_rows(db, table) for table in tables]

    before, balance = counts(), wallet_balance(db, owner)
    upgrade = client.post(
        f"/v1/subscriptions/{sub['id']}/upgrade",
        json={"lookup_key": GROWTH},
        params={"dry_run": "true"},
        headers=owner.headers,
    )
    addon = client.post(
        f"/v1/subscriptions/{sub['id']}/addons",
        json={"mailbox_type": "GOOGLE", "quantity": 2, "dry_run": True},
        headers=owner.headers,
    )
    assert upgrade.status_code == 200
    assert addon.status_code == 200
    assert upgrade.json()["refusals"] == []
    assert addon.json()["refusals"] == []
    assert counts() == before
    assert wallet_balance(db, owner) == balance
