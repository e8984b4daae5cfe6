"""The quota: operator grants + slots of ACTIVE/PAST_DUE subscriptions + current add-ons, pooled
across the types a plan covers; an EXPIRED subscription's slots are gone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from mailfleet.billing import slots
from mailfleet.billing.subscriptions import addons, transitions
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.mailboxes import rules
from mailfleet.models import MailboxType, Role, Subscription, SubscriptionStatus
from tests.factories import (
    fund_wallet,
    give_slots,
    make_domain,
    make_mailbox,
    make_member,
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


@pytest.mark.postgres_only
def test_a_google_and_a_microsoft_order_race_for_the_last_pooled_slot(
    db: Database, make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each order locks the whole pool's Allocation rows, not only its own type's: the
    MICROSOFT order waits for the GOOGLE one, held inside its transaction after its quota
    check, and then finds the slot taken. (PostgreSQL: SQLite's write lock serialises
    writers already, and has no lock wait to observe.)"""
    seed_plans(db, billing_unified_provider=True)
    owner = make_tenant(db)
    make_subscription(db, owner.workspace_id, "microsoft_starter_monthly")  # 10 pooled slots
    used = make_domain(db, owner.workspace_id, mailbox_type=G)
    for _ in range(9):
        make_mailbox(db, used, mailbox_type=G)
    google = make_domain(db, owner.workspace_id, mailbox_type=G)
    microsoft = make_domain(db, owner.workspace_id, mailbox_type=M)
    # Two callers: a key's last-use stamp is written in its request's transaction, so two
    # requests with one key would wait for each other on that row whatever the pool does.
    admin = make_member(db, owner, Role.ADMIN)

    inside, release, second_checked = threading.Event(), threading.Event(), threading.Event()
    original = rules.check_usernames_free

    def held(session: Any, domain_id: Any, usernames: Any, **kwargs: Any) -> None:
        # Runs after the quota check, still inside the order's transaction.
        if "gina" in usernames:
            inside.set()
            release.wait(60)
        elif "mike" in usernames:
            second_checked.set()
        original(session, domain_id, usernames, **kwargs)

    monkeypatch.setattr(rules, "check_usernames_free", held)
    answers: dict[str, Any] = {}

    def order(name: str, domain: Any, kind: str, caller: Any) -> None:
        client = make_client(recent_creation_rule="off")
        answers[name] = client.post(
            "/v1/mailbox-orders", json=order_body(domain, [name], kind), headers=caller.headers
        )

    first = threading.Thread(target=order, args=("gina", google, "GOOGLE", owner))
    first.start()
    assert inside.wait(60), "the GOOGLE order never reached its hold"
    second = threading.Thread(target=order, args=("mike", microsoft, "MICROSOFT", admin))
    second.start()
    # Release the first once the second is either blocked on a row lock (the fix) or past its
    # own quota check (the race): whichever comes, the outcome below tells them apart.
    for _ in range(1200):
        if second_checked.wait(0.05) or _waiting_on_a_lock(db):
            break
    release.set()
    first.join(60)
    second.join(60)
    assert answers["gina"].status_code == 201, answers["gina"].text
    assert answers["mike"].status_code == 409, answers["mike"].text
    assert answers["mike"].json()["code"] == "quota_exceeded"
    assert allocated(db, owner.workspace_id, M).used == 10


def _waiting_on_a_lock(db: Database) -> bool:
    with db.engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        ).scalar_one()
    return bool(waiting)
