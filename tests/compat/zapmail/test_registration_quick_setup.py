"""Zapmail's quick setup: domains bought (wallet or payment link), the slots the mailboxes lack
bought with them (R16), each domain's mailboxes placed once it is ACTIVE, then exported; and a
paid `domains/buy` link that buys by itself once paid."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from mailfleet.billing import slots
from mailfleet.db import Database
from mailfleet.jobs.queue import Runtime
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import (
    AddonSlots,
    Domain,
    DomainPurchase,
    DomainStatus,
    Mailbox,
    MailboxStatus,
    MailboxType,
    Payment,
    PaymentStatus,
    QuickSetup,
)
from tests.billing.payments.conftest import post_event
from tests.compat.zapmail.test_registration import API, PRICE, balance, count
from tests.factories import (
    Caller,
    fund_wallet,
    give_slots,
    make_domain,
    make_mailbox,
    make_subscription,
    make_tenant,
    seed_plans,
)
from tests.support.fake_stripe import FakeStripe
from tests.support.jobs import drain

ADVANCE = "setups.advance"
ADA = {"firstName": "Ada", "lastName": "Lovelace", "mailboxUsername": "ada"}
ALAN = {"firstName": "Alan", "lastName": "Turing", "mailboxUsername": "alan"}
BODY: dict[str, Any] = {
    "domains": [{"domainName": "example.com", "years": 1}],
    "mailboxes": {"example.com": [ADA, ALAN]},
    "useWallet": True,
}
DOMAIN_CENTS = 1385  # example.com at the fake's price, with the 25% markup


def _runtime(api: TestClient) -> Runtime:
    runtime: Runtime = api.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def _setup(db: Database, setup_id: str) -> QuickSetup:
    with db.transaction(write=False) as session:
        found = session.get_one(QuickSetup, uuid.UUID(setup_id))
        session.expunge(found)
        return found


def _activate_domains(db: Database, workspace_id: uuid.UUID) -> None:
    """The delegation of a bought domain is checked at the real parent zone; here it is set."""
    with db.transaction() as session:
        session.execute(
            update(Domain)
            .where(Domain.workspace_id == workspace_id)
            .values(status=DomainStatus.ACTIVE)
        )


def _start(api: TestClient, owner: Caller, body: dict[str, Any] = BODY) -> dict[str, Any]:
    headers = {**owner.zapmail_headers, "x-service-provider": "GOOGLE"}
    response = api.post(f"{API}/v2/quick-setup", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _status(api: TestClient, owner: Caller, setup_id: str) -> dict[str, Any]:
    response = api.get(
        f"{API}/v2/quick-setup/status", params={"id": setup_id}, headers=owner.zapmail_headers
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_a_paid_setup_places_the_mailboxes_once_the_domain_is_active(
    db: Database, api: TestClient
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 5)

    answer = _start(api, owner)

    assert answer["message"] == "Quick setup started successfully"
    data = answer["data"]
    assert [(d["domainName"], d["price"]) for d in data["domains"]] == [("example.com", PRICE)]
    assert (data["addonMailboxes"], data["addonAmount"], data["totalAmount"]) == (0, 0, PRICE)
    assert data["mailboxes"] == [{"domainName": "example.com", "requested": 2, "placed": 0}]
    assert balance(db, owner.workspace_id) == 10_000 - DOMAIN_CENTS
    setup_id = data["quickSetupId"]

    drain(_runtime(api))  # registration, then the setup's first look: the domain is not ACTIVE
    assert _setup(db, setup_id).status.value == "WAITING_FOR_DOMAINS"
    assert count(db, Mailbox, owner.workspace_id) == 0

    _activate_domains(db, owner.workspace_id)
    _runtime(api).run_now(ADVANCE, setup_id)

    status = _status(api, owner, setup_id)
    assert status["status"] == "DONE"
    [domain] = status["domains"]
    assert (domain["domainName"], domain["requested"], domain["placed"]) == ("example.com", 2, 2)
    assert (domain["purchaseStatus"], domain["domainStatus"], domain["skipped"]) == (
        "ACTIVE",
        "ACTIVE",
        None,
    )
    with db.transaction(write=False) as session:
        usernames = set(session.scalars(select(Mailbox.username)))
    assert {"ada", "alan"} <= usernames
    # Run again (a duplicate job): nothing is placed twice.
    _runtime(api).run_now(ADVANCE, setup_id)
    assert count(db, Mailbox, owner.workspace_id) == 2


def test_only_the_missing_slots_are_billed_with_the_domains(db: Database, api: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    make_subscription(db, owner.workspace_id)
    with db.transaction(write=False) as session:
        allocated = slots.quota(
            session, owner.workspace_id, MailboxType.GOOGLE, clock.now()
        ).allocated
    # Every slot but one in use: of the two mailboxes asked for, one lacks a slot.
    filler = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    for _ in range(allocated - 1):
        make_mailbox(db, filler)
    fund_wallet(db, owner.workspace_id, 100_000)
    before = balance(db, owner.workspace_id)

    data = _start(api, owner)["data"]

    assert data["addonMailboxes"] == 1
    assert data["addonAmount"] > 0
    paid = before - balance(db, owner.workspace_id)
    assert paid == DOMAIN_CENTS + round(data["addonAmount"] * 100)
    assert round(data["totalAmount"] * 100) == paid
    with db.transaction(write=False) as session:
        [addon] = session.scalars(
            select(AddonSlots).where(AddonSlots.workspace_id == owner.workspace_id)
        )
        assert (addon.mailbox_type, addon.quantity) == (MailboxType.GOOGLE, 1)


def test_mailboxes_without_slots_or_a_subscription_buy_nothing(
    db: Database, api: TestClient
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    headers = {**owner.zapmail_headers, "x-service-provider": "GOOGLE"}

    response = api.post(f"{API}/v2/quick-setup", json=BODY, headers=headers)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "subscription_not_found"
    assert balance(db, owner.workspace_id) == 10_000
    assert count(db, DomainPurchase, owner.workspace_id) == 0
    assert count(db, QuickSetup, owner.workspace_id) == 0


def test_mailboxes_for_a_domain_not_bought_are_422_and_buy_nothing(
    db: Database, api: TestClient
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    body = {**BODY, "mailboxes": {"other.com": [ADA]}}
    too_many = {
        **BODY,
        "mailboxes": {"example.com": [{**ADA, "mailboxUsername": f"u{i}"} for i in range(6)]},
    }
    bad_name = {**BODY, "mailboxes": {"example.com": [{**ADA, "mailboxUsername": "no spaces"}]}}

    for wrong in (body, too_many, bad_name):
        response = api.post(f"{API}/v2/quick-setup", json=wrong, headers=owner.zapmail_headers)
        assert response.status_code == 422, response.text
        assert response.json()["data"] is None

    assert balance(db, owner.workspace_id) == 10_000
    assert count(db, DomainPurchase, owner.workspace_id) == 0


def _pay(api: TestClient, stripe_fake: FakeStripe) -> None:
    (session,) = stripe_fake.sessions.values()
    paid = stripe_fake.complete(session["id"])
    assert post_event(api, stripe_fake, "checkout.session.completed", paid).status_code == 200


def test_a_paid_link_buys_the_domains_by_itself(
    db: Database, api: TestClient, stripe_fake: FakeStripe
) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 5)

    answer = _start(api, owner, {**BODY, "useWallet": False})

    assert answer["message"] == "Payment link generated successfully"
    data = answer["data"]
    assert data["paymentLink"].startswith("https://checkout.stripe.com/")
    setup_id = data["quickSetupId"]
    _runtime(api).run_now(ADVANCE, setup_id)  # not paid yet: it waits
    assert _setup(db, setup_id).status.value == "AWAITING_PAYMENT"
    assert count(db, DomainPurchase, owner.workspace_id) == 0

    _pay(api, stripe_fake)
    assert balance(db, owner.workspace_id) == DOMAIN_CENTS
    _runtime(api).run_now(ADVANCE, setup_id)

    assert _setup(db, setup_id).status.value == "WAITING_FOR_DOMAINS"
    assert count(db, DomainPurchase, owner.workspace_id) == 1
    assert balance(db, owner.workspace_id) == 0
    _runtime(api).run_now(ADVANCE, setup_id)  # again: nothing bought twice
    assert count(db, DomainPurchase, owner.workspace_id) == 1


def test_a_domains_buy_link_goes_ahead_once_paid(
    db: Database, api: TestClient, stripe_fake: FakeStripe
) -> None:
    owner = make_tenant(db)
    body = {"domains": [{"domainName": "example.com", "years": 1}], "useWallet": False}
    response = api.post(f"{API}/v2/domains/buy", json=body, headers=owner.zapmail_headers)
    assert response.status_code == 200, response.text

    _pay(api, stripe_fake)
    drain(_runtime(api))
    with db.transaction() as session:
        session.execute(update(QuickSetup).values(next_check_at=clock.now()))
    sweep(_runtime(api))
    drain(_runtime(api))

    with db.transaction(write=False) as session:
        names = list(session.scalars(select(DomainPurchase.name)))
        domains = session.scalar(select(func.count()).select_from(Domain))
    assert names == ["example.com"]
    assert domains == 1
    assert balance(db, owner.workspace_id) == 0


def test_an_expired_link_fails_the_setup_and_buys_nothing(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 5)
    setup_id = _start(api, owner, {**BODY, "useWallet": False})["data"]["quickSetupId"]
    with db.transaction() as session:
        session.execute(update(Payment).values(status=PaymentStatus.EXPIRED))

    _runtime(api).run_now(ADVANCE, setup_id)

    status = _status(api, owner, setup_id)
    assert status["status"] == "FAILED"
    assert "expired" in status["failureReason"]
    assert count(db, DomainPurchase, owner.workspace_id) == 0


def test_a_failed_registration_skips_its_mailboxes_and_says_why(
    db: Database, api: TestClient
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 5)
    setup_id = _start(api, owner)["data"]["quickSetupId"]
    with db.transaction() as session:
        session.execute(
            update(DomainPurchase).values(status="FAILED", failure_reason="registry said no")
        )

    _runtime(api).run_now(ADVANCE, setup_id)

    status = _status(api, owner, setup_id)
    assert status["status"] == "DONE"
    [domain] = status["domains"]
    assert (domain["placed"], domain["skipped"]) == (0, "The registration failed: registry said no")
    assert count(db, Mailbox, owner.workspace_id) == 0


def test_another_accounts_setup_is_not_found(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 5)
    setup_id = _start(api, owner)["data"]["quickSetupId"]
    intruder = make_tenant(db)

    response = api.get(
        f"{API}/v2/quick-setup/status", params={"id": setup_id}, headers=intruder.zapmail_headers
    )

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "quick_setup_not_found"


def test_the_made_mailboxes_are_exported_to_the_apps(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 5)
    login = {"email": "me@example.com", "password": "key", "app": "INSTANTLY"}
    added = api.post(
        f"{API}/v2/exports/accounts/third-party", json=login, headers=owner.zapmail_headers
    )
    assert added.status_code == 200, added.text
    setup_id = _start(api, owner, {**BODY, "apps": ["instantly"]})["data"]["quickSetupId"]
    drain(_runtime(api))  # the registration
    _activate_domains(db, owner.workspace_id)
    _runtime(api).run_now(ADVANCE, setup_id)
    assert _setup(db, setup_id).status.value == "WAITING_FOR_MAILBOXES"
    _runtime(api).run_now(ADVANCE, setup_id)  # the mailboxes are not made yet
    assert _setup(db, setup_id).export_ids == []

    with db.transaction() as session:
        session.execute(update(Mailbox).values(status=MailboxStatus.ACTIVE))
    _runtime(api).run_now(ADVANCE, setup_id)

    done = _setup(db, setup_id)
    assert done.status.value == "DONE"
    assert len(done.export_ids) == 1
    jobs = api.get("/v1/exports", headers=owner.headers)
    assert jobs.status_code == 200, jobs.text
    assert [job["id"] for job in jobs.json()["items"]] == done.export_ids


def test_a_link_never_paid_fails_after_two_days(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 5)
    setup_id = _start(api, owner, {**BODY, "useWallet": False})["data"]["quickSetupId"]

    clock.advance(47 * 3600)
    _runtime(api).run_now(ADVANCE, setup_id)
    assert _setup(db, setup_id).status.value == "AWAITING_PAYMENT"
    clock.advance(2 * 3600)
    _runtime(api).run_now(ADVANCE, setup_id)

    status = _status(api, owner, setup_id)
    assert status["status"] == "FAILED"
    assert "within two days" in status["failureReason"]
    assert count(db, DomainPurchase, owner.workspace_id) == 0
