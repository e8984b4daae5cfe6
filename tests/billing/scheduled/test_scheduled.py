"""Scheduled mailbox creation: scheduling under the slot-at-renewal rule and the order's
username rules, editing and removing before the billing date, and creation at the renewal
(once, and never when billing fails)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.billing import slots
from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import (
    Domain,
    Mailbox,
    MailboxOrder,
    MailboxStatus,
    MailboxType,
    ScheduledMailbox,
    ScheduledMailboxStatus,
    Subscription,
)
from tests.factories import (
    Caller,
    fund_wallet,
    make_domain,
    make_mailbox,
    make_plan,
    make_subscription,
    make_tenant,
)
from tests.support.jobs import drain

PRICE = 10_000


def tick(client: TestClient, seconds: float = 0) -> None:
    clock.advance(seconds)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    sweep(runtime)
    drain(runtime)


def entries(*usernames: str) -> list[dict[str, str]]:
    return [{"username": u, "first_name": "Ada", "last_name": "Stone"} for u in usernames]


def schedule(
    client: TestClient, caller: Caller, domain: Domain, *usernames: str, **extra: object
) -> object:
    return client.post(
        f"/v1/domains/{domain.id}/scheduled-mailboxes",
        json={"mailboxes": entries(*usernames), **extra},
        headers=caller.headers,
    )


def period_end(db: Database, subscription_id: uuid.UUID) -> float:
    with db.transaction(write=False) as session:
        end = session.get_one(Subscription, subscription_id).current_period_end
    return (end.replace(tzinfo=clock.now().tzinfo) - clock.now()).total_seconds()


def mark(db: Database, mailbox_id: uuid.UUID, status: MailboxStatus, **values: object) -> None:
    """Set a test mailbox's state directly (as if it had moved through the API)."""
    with db.transaction() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        mailbox.status = status
        for column, value in values.items():
            setattr(mailbox, column, value)


@pytest.fixture
def tenant(db: Database) -> Caller:
    return make_tenant(db)


@pytest.fixture
def subscription(db: Database, tenant: Caller) -> uuid.UUID:
    """A monthly GOOGLE plan of 3 slots."""
    return make_subscription(db, tenant.workspace_id, make_plan(db, slots=3, price_cents=PRICE))


@pytest.fixture
def domain(db: Database, tenant: Caller) -> Domain:
    return make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)


def test_schedule_edit_and_remove_before_the_billing_date(
    client: TestClient, db: Database, tenant: Caller, subscription: uuid.UUID, domain: Domain
) -> None:
    response = schedule(client, tenant, domain, "Ada", "bob")
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    rows = response.json()["items"]  # type: ignore[attr-defined]
    assert [r["username"] for r in rows] == ["ada", "bob"]
    assert {r["status"] for r in rows} == {"SCHEDULED"}
    assert {r["subscription_id"] for r in rows} == {str(subscription)}

    listed = client.get(
        "/v1/scheduled-mailboxes", params={"domain_id": str(domain.id)}, headers=tenant.headers
    )
    assert [r["username"] for r in listed.json()["items"]] == ["bob", "ada"]

    first = rows[0]["id"]
    edited = client.patch(
        f"/v1/scheduled-mailboxes/{first}", json={"username": "ada2"}, headers=tenant.headers
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["username"] == "ada2"
    clash = client.patch(
        f"/v1/scheduled-mailboxes/{first}", json={"username": "bob"}, headers=tenant.headers
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "username_scheduled"

    removed = client.delete(f"/v1/scheduled-mailboxes/{first}", headers=tenant.headers)
    assert removed.json()["status"] == "CANCELLED"
    again = client.patch(
        f"/v1/scheduled-mailboxes/{first}", json={"first_name": "X"}, headers=tenant.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "scheduled_mailbox_closed"
    only = client.get(
        "/v1/scheduled-mailboxes", params={"status": "SCHEDULED"}, headers=tenant.headers
    )
    assert [r["username"] for r in only.json()["items"]] == ["bob"]


def test_a_slot_must_be_free_at_the_renewal(
    client: TestClient, db: Database, tenant: Caller, subscription: uuid.UUID, domain: Domain
) -> None:
    other = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, other)
    make_mailbox(db, other)
    leaving = make_mailbox(db, other)
    mark(db, leaving, MailboxStatus.REMOVAL_SCHEDULED, remove_at_renewal=True)
    # 3 slots - 2 staying: one is free at the renewal (the removal frees its slot then).
    refused = schedule(client, tenant, domain, "a", "b")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert refused.json()["code"] == "no_slot_at_renewal"  # type: ignore[attr-defined]
    assert schedule(client, tenant, domain, "a").status_code == 201  # type: ignore[attr-defined]
    full = schedule(client, tenant, domain, "b")
    assert full.json()["code"] == "no_slot_at_renewal"  # type: ignore[attr-defined]


def test_username_and_subscription_rules(
    client: TestClient, db: Database, tenant: Caller, domain: Domain
) -> None:
    none = schedule(client, tenant, domain, "ada")
    assert none.status_code == 409  # type: ignore[attr-defined]
    assert none.json()["code"] == "no_subscription_for_type"  # type: ignore[attr-defined]
    make_subscription(db, tenant.workspace_id, make_plan(db, slots=5))
    taken = make_mailbox(db, domain)
    with db.transaction(write=False) as session:
        username = session.get_one(Mailbox, taken).username
    cases = {
        ("bad name!",): (422, "invalid_username"),
        ("ada", "ADA"): (422, "duplicate_username"),
        (username,): (409, "username_taken"),
    }
    for usernames, (status, code) in cases.items():
        response = schedule(client, tenant, domain, *usernames)
        assert response.status_code == status, response.text  # type: ignore[attr-defined]
        assert response.json()["code"] == code  # type: ignore[attr-defined]
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(ScheduledMailbox)) == 0


def test_a_retried_schedule_with_the_same_idempotency_key_schedules_once(
    client: TestClient, db: Database, tenant: Caller, subscription: uuid.UUID, domain: Domain
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "schedule-1"}
    url = f"/v1/domains/{domain.id}/scheduled-mailboxes"
    first = client.post(url, json={"mailboxes": entries("ada")}, headers=headers)
    second = client.post(url, json={"mailboxes": entries("ada")}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(ScheduledMailbox)) == 1


def test_at_the_renewal_schedules_become_orders_and_removals_apply_once(
    client: TestClient, db: Database, tenant: Caller, subscription: uuid.UUID, domain: Domain
) -> None:
    fund_wallet(db, tenant.workspace_id, PRICE)
    other = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    staying = make_mailbox(db, other)
    leaving = make_mailbox(db, other)
    mark(db, leaving, MailboxStatus.REMOVAL_SCHEDULED, remove_at_renewal=True)
    gone = make_mailbox(db, other)
    # Removed instantly: it holds its slot until the renewal date (here, after the renewal).
    mark(db, gone, MailboxStatus.REMOVED, expires_at=clock.now() + timedelta(days=40))
    assert schedule(client, tenant, domain, "ada").status_code == 201  # type: ignore[attr-defined]

    tick(client, period_end(db, subscription))
    with db.transaction(write=False) as session:
        renewed = session.get_one(Subscription, subscription)
        start = renewed.current_period_start.replace(tzinfo=None)
        boxes = {m.id: m for m in session.scalars(select(Mailbox))}
        row = session.scalars(select(ScheduledMailbox)).one()
        usage = slots.usage(session, tenant.workspace_id)[MailboxType.GOOGLE]
        orders = session.scalar(select(func.count()).select_from(MailboxOrder))
    assert boxes[leaving].status == MailboxStatus.REMOVED
    assert boxes[gone].expires_at.replace(tzinfo=None) == start
    assert boxes[staying].expires_at.replace(tzinfo=None) == renewed.current_period_end.replace(
        tzinfo=None
    )
    assert row.status == ScheduledMailboxStatus.CREATED
    assert row.mailbox_id is not None
    created = boxes[row.mailbox_id]
    assert (created.address, created.status) == (f"ada@{domain.name}", MailboxStatus.PENDING)
    assert (usage.allocated, usage.used) == (3, 2)
    assert orders == 1

    tick(client, 3600)
    tick(client, period_end(db, subscription) - 3600)  # the next renewal (unfunded)
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(MailboxOrder)) == 1
        assert session.scalar(select(func.count()).select_from(Mailbox)) == 4


def test_a_refused_creation_is_skipped_with_the_rule(
    client: TestClient, db: Database, tenant: Caller, subscription: uuid.UUID, domain: Domain
) -> None:
    fund_wallet(db, tenant.workspace_id, PRICE)
    assert schedule(client, tenant, domain, "ada").status_code == 201  # type: ignore[attr-defined]
    squatter = make_mailbox(db, domain)
    mark(db, squatter, MailboxStatus.ACTIVE, username="ada", address=f"ada@{domain.name}")
    tick(client, period_end(db, subscription))
    with db.transaction(write=False) as session:
        row = session.scalars(select(ScheduledMailbox)).one()
    assert row.status == ScheduledMailboxStatus.SKIPPED
    assert "already used" in (row.skip_reason or "")


def test_nothing_is_created_when_billing_fails(
    make_client: Callable[..., TestClient],
    db: Database,
    tenant: Caller,
    subscription: uuid.UUID,
    domain: Domain,
) -> None:
    client = make_client(renewal_grace_days=1, renewal_retry_hours=24)
    assert schedule(client, tenant, domain, "ada").status_code == 201  # type: ignore[attr-defined]
    tick(client, period_end(db, subscription))
    with db.transaction(write=False) as session:
        assert session.scalars(select(ScheduledMailbox)).one().status == "SCHEDULED"
    tick(client, 24 * 3600)
    with db.transaction(write=False) as session:
        row = session.scalars(select(ScheduledMailbox)).one()
        assert session.scalar(select(func.count()).select_from(Mailbox)) == 0
    assert row.status == ScheduledMailboxStatus.SKIPPED
    assert (row.skip_reason or "").startswith("billing failed")


def test_one_renewal_chunk_orders_every_workspaces_schedules_and_skips_only_the_refused(
    client: TestClient, db: Database
) -> None:
    """The chunk's schedules go to the orders service as one batch: two domains of one
    workspace (successive rounds on one quota), a refused one skipped alone, another created."""
    key = make_plan(db, slots=3, price_cents=PRICE)
    two, refused, one = (make_tenant(db) for _ in range(3))
    subscriptions = [make_subscription(db, c.workspace_id, key) for c in (two, refused, one)]
    for caller in (two, refused, one):
        fund_wallet(db, caller.workspace_id, PRICE)
    first, second = (
        make_domain(db, two.workspace_id, mailbox_type=MailboxType.GOOGLE) for _ in "ab"
    )
    taken = make_domain(db, refused.workspace_id, mailbox_type=MailboxType.GOOGLE)
    lone = make_domain(db, one.workspace_id, mailbox_type=MailboxType.GOOGLE)
    for caller, domain, names in (
        (two, first, ("ada", "bea")),
        (two, second, ("cy",)),
        (refused, taken, ("dee",)),
        (one, lone, ("eve",)),
    ):
        assert schedule(client, caller, domain, *names).status_code == 201  # type: ignore[attr-defined]
    squatter = make_mailbox(db, taken)
    mark(db, squatter, MailboxStatus.ACTIVE, username="dee", address=f"dee@{taken.name}")

    tick(client, max(period_end(db, s) for s in subscriptions))
    with db.transaction(write=False) as session:
        rows = {r.username: r for r in session.scalars(select(ScheduledMailbox))}
        orders = session.scalars(select(MailboxOrder)).all()
        addresses = set(session.scalars(select(Mailbox.address)))
        usage = slots.usage(session, two.workspace_id)[MailboxType.GOOGLE]
    assert {u: r.status for u, r in rows.items()} == {
        "ada": ScheduledMailboxStatus.CREATED,
        "bea": ScheduledMailboxStatus.CREATED,
        "cy": ScheduledMailboxStatus.CREATED,
        "dee": ScheduledMailboxStatus.SKIPPED,
        "eve": ScheduledMailboxStatus.CREATED,
    }
    assert "already used" in (rows["dee"].skip_reason or "")
    assert sorted(o.domain_id for o in orders) == sorted([first.id, second.id, lone.id])
    assert {f"ada@{first.name}", f"bea@{first.name}", f"cy@{second.name}", f"eve@{lone.name}"} <= (
        addresses
    )
    assert (usage.allocated, usage.used) == (3, 3)
