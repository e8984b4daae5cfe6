"""What an upgrade carries over to the new subscription: mailboxes scheduled for the old
renewal wait for the new billing date (and are created there), and renewing add-ons take the
new period's end (and renew with it)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import (
    AddonSlots,
    Mailbox,
    MailboxType,
    ScheduledMailbox,
    ScheduledMailboxStatus,
    Subscription,
    SubscriptionStatus,
)
from tests.factories import (
    Caller,
    fund_wallet,
    make_addon,
    make_domain,
    make_plan,
    make_subscription,
    make_tenant,
)
from tests.support.jobs import drain

PRICE, BIGGER, ADDON = 10_000, 20_000, 500


def tick(client: TestClient, seconds: float = 0) -> None:
    clock.advance(seconds)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    sweep(runtime)
    drain(runtime)


def naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def upgraded(db: Database, client: TestClient) -> tuple[Caller, uuid.UUID, uuid.UUID, dict]:
    """A 3-slot subscription with a renewing and a removed add-on and one scheduled mailbox,
    upgraded ten days in to a 10-slot plan."""
    tenant = make_tenant(db)
    small = make_plan(db, slots=3, price_cents=PRICE, addon_price_cents=ADDON)
    large = make_plan(db, slots=10, price_cents=BIGGER, addon_price_cents=ADDON)
    old = make_subscription(db, tenant.workspace_id, small)
    renewing = make_addon(db, old, quantity=2)
    stopped = make_addon(db, old, quantity=1, renew=False)
    with db.transaction() as session:
        session.get_one(AddonSlots, stopped).removed_at = clock.now()
    domain = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    scheduled = client.post(
        f"/v1/domains/{domain.id}/scheduled-mailboxes",
        json={"mailboxes": [{"username": "ada", "first_name": "Ada", "last_name": "Stone"}]},
        headers=tenant.headers,
    )
    assert scheduled.status_code == 201, scheduled.text
    clock.advance(timedelta(days=10).total_seconds())
    fund_wallet(db, tenant.workspace_id, BIGGER)
    response = client.post(
        f"/v1/subscriptions/{old}/upgrade", json={"lookup_key": large}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return tenant, renewing, stopped, response.json()


def test_an_upgrade_moves_scheduled_mailboxes_and_add_ons_to_the_new_subscription(
    db: Database, client: TestClient
) -> None:
    _, renewing, stopped, new = upgraded(db, client)
    with db.transaction(write=False) as session:
        fresh = session.get_one(Subscription, uuid.UUID(new["id"]))
        row = session.scalars(select(ScheduledMailbox)).one()
        addons = {a.id: a for a in session.scalars(select(AddonSlots))}
        old_end = naive(addons[stopped].period_end)
        new_end = naive(fresh.current_period_end)
    assert row.subscription_id == fresh.id
    assert row.status == ScheduledMailboxStatus.SCHEDULED
    assert naive(row.scheduled_for) == new_end
    assert {a.subscription_id for a in addons.values()} == {fresh.id}
    assert naive(addons[renewing].period_end) == new_end
    # A removed add-on was paid until the old end and renews no more: its dates stay.
    assert old_end < new_end


def test_after_an_upgrade_the_new_renewal_creates_the_scheduled_mailbox_and_renews_add_ons(
    db: Database, client: TestClient
) -> None:
    tenant, renewing, _, new = upgraded(db, client)
    fund_wallet(db, tenant.workspace_id, BIGGER + 2 * ADDON)
    with db.transaction(write=False) as session:
        fresh = session.get_one(Subscription, uuid.UUID(new["id"]))
        first_end = naive(fresh.current_period_end)
    tick(client, (first_end - naive(clock.now())).total_seconds())
    with db.transaction(write=False) as session:
        fresh = session.get_one(Subscription, uuid.UUID(new["id"]))
        row = session.scalars(select(ScheduledMailbox)).one()
        addon = session.get_one(AddonSlots, renewing)
        mailbox = session.get(Mailbox, row.mailbox_id) if row.mailbox_id else None
    assert fresh.status == SubscriptionStatus.ACTIVE
    assert naive(fresh.current_period_start) == first_end
    assert row.status == ScheduledMailboxStatus.CREATED
    assert mailbox is not None
    assert mailbox.address.startswith("ada@")
    assert naive(addon.period_start) == first_end
    assert naive(addon.period_end) == naive(fresh.current_period_end)
