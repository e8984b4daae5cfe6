"""The quota: operator grants + slots of ACTIVE/PAST_DUE subscriptions + current add-ons, pooled
across the types a plan covers; an EXPIRED subscription's slots are gone."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from mailfleet.billing import slots
from mailfleet.billing.subscriptions import addons, transitions
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import MailboxType, Subscription, SubscriptionStatus
from tests.factories import (
    fund_wallet,
    give_slots,
    make_domain,
    make_mailbox,
    make_subscription,
    make_tenant,
    order_body,
    seed_plans,
)

G, M = MailboxType.GOOGLE, MailboxType.MICROSOFT


def allocated(db: Database, workspace_id: object, kind: MailboxType) -> slots.Usage:
    with db.transaction(write=False) as session:
        return slots.usage(session, workspace_id)[kind]  # type: ignore[arg-type]


def test_grants_subscriptions_and_add_ons_add_up(db: Database) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, G, 5)
    sub_id = make_subscription(db, owner.workspace_id, "google_starter_monthly")
    make_subscription(db, owner.workspace_id, "google_growth_quarterly")
    fund_wallet(db, owner.workspace_id, 10_000)
    with db.transaction() as session:
        sub = session.get(Subscription, sub_id)
        assert sub is not None
        addons.add(
            session, owner.workspace_id, str(sub_id), G, 4, default_currency="USD", actor="t"
        )
    domain = make_domain(db, owner.workspace_id, mailbox_type=G)
    make_mailbox(db, domain)
    usage = allocated(db, owner.workspace_id, G)
    assert usage.allocated == 5 + 10 + 30 + 4
    assert usage.used == 1
    assert allocated(db, owner.workspace_id, M).allocated == 0


def test_an_expired_subscription_takes_its_slots_and_orders_are_refused(
    db: Database, off: TestClient
) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    sub_id = make_subscription(db, owner.workspace_id, "google_starter_monthly")
    domain = make_domain(db, owner.workspace_id, mailbox_type=G)
    first = off.post("/v1/mailbox-orders", json=order_body(domain, ["ada"]), headers=owner.headers)
    assert first.status_code == 201, first.text
    with db.transaction() as session:
        sub = session.get(Subscription, sub_id)
        assert sub is not None
        transitions.move(session, sub, SubscriptionStatus.EXPIRED, actor="t", reason="unpaid")
    assert allocated(db, owner.workspace_id, G).allocated == 0
    refused = off.post(
        "/v1/mailbox-orders", json=order_body(domain, ["bob"]), headers=owner.headers
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "quota_exceeded"


def test_orders_draw_on_subscription_slots_up_to_their_number(
    db: Database, off: TestClient
) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    make_subscription(db, owner.workspace_id, "smtp_starter_monthly")
    domains = [make_domain(db, owner.workspace_id, mailbox_type=MailboxType.SMTP) for _ in range(3)]
    for index, domain in enumerate(domains[:2]):
        names = [f"u{index}{n}" for n in range(5)]
        ok = off.post(
            "/v1/mailbox-orders", json=order_body(domain, names, "SMTP"), headers=owner.headers
        )
        assert ok.status_code == 201, ok.text
    over = off.post(
        "/v1/mailbox-orders", json=order_body(domains[2], ["extra"], "SMTP"), headers=owner.headers
    )
    assert over.status_code == 409
    assert over.json()["code"] == "quota_exceeded"


def test_a_unified_plan_pools_google_and_microsoft(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    seed_plans(db, billing_unified_provider=True)
    owner = make_tenant(db)
    make_subscription(db, owner.workspace_id, "microsoft_starter_monthly")
    google = make_domain(db, owner.workspace_id, mailbox_type=G)
    for _ in range(6):
        make_mailbox(db, google, mailbox_type=G)
    microsoft = make_domain(db, owner.workspace_id, mailbox_type=M)
    for _ in range(3):
        make_mailbox(db, microsoft, mailbox_type=M)
    for kind in (G, M):
        usage = allocated(db, owner.workspace_id, kind)
        assert (usage.allocated, usage.used) == (10, 9)
    with db.transaction(write=False) as session:
        found = slots.quota(session, owner.workspace_id, M, clock.now(), granted=0)
    assert found.pool == frozenset({G, M})
    assert found.allocated - found.used == 1
