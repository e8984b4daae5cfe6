"""A new mailbox's renewal date (`expires_at`) is the period end of the subscription that will
renew it (mailboxes.expiry), not a fixed number of days; with grants only, it stays fixed."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import Domain, Mailbox, MailboxType, Subscription
from tests.factories import (
    give_slots,
    make_domain,
    make_plan,
    make_subscription,
    make_tenant,
    order_body,
)


def ordered_expiry(
    client: TestClient, db: Database, headers: dict[str, str], domain: Domain
) -> datetime | None:
    """Order one mailbox on `domain` through the API; its `expires_at`."""
    response = client.post("/v1/mailbox-orders", json=order_body(domain, ["ada"]), headers=headers)
    assert response.status_code in (201, 202), response.text
    with db.transaction(write=False) as session:
        return session.scalar(select(Mailbox.expires_at).where(Mailbox.username == "ada"))


def test_an_ordered_mailbox_renews_with_its_subscription(client: TestClient, db: Database) -> None:
    tenant = make_tenant(db)
    subscription_id = make_subscription(db, tenant.workspace_id, make_plan(db, slots=2))
    # Ordered five days into the period: a fixed 30 days from now would be 35 from its start,
    # longer than any calendar month.
    clock.advance(5 * 24 * 3600)
    domain = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)

    expires_at = ordered_expiry(client, db, tenant.headers, domain)

    with db.transaction(write=False) as session:
        end = session.get_one(Subscription, subscription_id).current_period_end
    assert expires_at == end


def test_the_earliest_renewing_subscription_of_the_type_sets_it(
    client: TestClient, db: Database
) -> None:
    tenant = make_tenant(db)
    first = make_subscription(db, tenant.workspace_id, make_plan(db, slots=1))
    clock.advance(2 * 24 * 3600)
    make_subscription(db, tenant.workspace_id, make_plan(db, slots=1))
    # A subscription of another type does not renew GOOGLE mailboxes.
    make_subscription(
        db, tenant.workspace_id, make_plan(db, mailbox_types=(MailboxType.MICROSOFT,), slots=1)
    )
    domain = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)

    expires_at = ordered_expiry(client, db, tenant.headers, domain)

    with db.transaction(write=False) as session:
        assert expires_at == session.get_one(Subscription, first).current_period_end


def test_with_operator_grants_only_the_fixed_renewal_period_applies(
    client: TestClient, db: Database
) -> None:
    tenant = make_tenant(db)
    give_slots(db, tenant.workspace_id, MailboxType.GOOGLE, 1)
    domain = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    before = clock.now()

    expires_at = ordered_expiry(client, db, tenant.headers, domain)

    period = timedelta(days=client.app.state.runtime.settings.renewal_period_days)  # type: ignore[attr-defined]
    assert before + period <= expires_at <= clock.now() + period
