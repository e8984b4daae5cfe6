"""Renewing purchased domains: paid once and renewed once per registration period (swept
twice, killed after the debit, or its answer lost), refunded when the registrar refuses,
refused by Porkbun, failed without a debit when the wallet is short, and EXPIRED when not
renewed; told once per period of an upcoming expiry when not renewing itself, and naming
the live mailboxes of a domain that expired."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import (
    Domain,
    DomainPurchase,
    DomainPurchaseStatus,
    DomainRenewal,
    DomainSource,
    DomainStatus,
    Event,
    MailboxOrder,
    MailboxStatus,
    Wallet,
    Workspace,
)
from mailfleet.registrars.renewals import RENEW, sweep_renewals
from tests.factories import (
    Caller,
    count_rows,
    fund_wallet,
    make_domain,
    make_mailbox,
    make_tenant,
    order_body,
)
from tests.fakes.namecheap import FakeNamecheap, app_settings
from tests.orders.helpers import ORDERS, tenant
from tests.registrars.test_namecheap import BILLING

PRICE = 1330  # what the workspace paid per year at purchase
DAY = 86_400


@pytest.fixture
def fake() -> Iterator[FakeNamecheap]:
    with FakeNamecheap() as running:
        yield running


@pytest.fixture
def api(make_client: Callable[..., TestClient], fake: FakeNamecheap) -> TestClient:
    return make_client(**app_settings(fake))


@pytest.fixture
def owner(db: Database) -> Caller:
    caller = tenant(db)  # with mailbox slots, to order on its domains
    fund_wallet(db, caller.workspace_id, 10_000)
    return caller


def bought(
    db: Database,
    owner: Caller,
    fake: FakeNamecheap | None,
    *,
    days_left: int = 5,
    auto_renew: bool = True,
    registrar: str = "namecheap",
) -> Domain:
    """A purchased ACTIVE domain whose registration ends in `days_left` days."""
    domain = make_domain(db, owner.workspace_id)
    expires = datetime.combine(
        clock.now().date() + timedelta(days=days_left), datetime.min.time(), clock.now().tzinfo
    )
    with db.transaction() as session:
        found = session.get_one(Domain, domain.id)
        found.source = DomainSource.PURCHASED
        found.auto_renew = auto_renew
        found.registration_expires_at = expires
        session.add(
            DomainPurchase(
                workspace_id=owner.workspace_id,
                name=domain.name,
                years=1,
                registrar=registrar,
                status=DomainPurchaseStatus.REGISTERED,
                registrar_price_cents=958,
                price_cents=PRICE,
                currency="USD",
                nameserver_1=domain.nameserver_1,
                nameserver_2=domain.nameserver_2,
                domain_id=domain.id,
                created_by="test",
            )
        )
    if fake is not None:
        fake.register_existing(domain.name, expires.date())
    return domain


def sweep(api: TestClient) -> int:
    return sweep_renewals(api.app.state.runtime)  # type: ignore[attr-defined]


def run(api: TestClient, renewal_id: uuid.UUID) -> None:
    api.app.state.runtime.run_now(RENEW, str(renewal_id))  # type: ignore[attr-defined]


def renewals(db: Database, domain_id: uuid.UUID) -> list[DomainRenewal]:
    with db.transaction(write=False) as session:
        rows = session.scalars(
            select(DomainRenewal).where(DomainRenewal.domain_id == domain_id)
        ).all()
        session.expunge_all()
        return list(rows)


def the_domain(db: Database, domain_id: uuid.UUID) -> Domain:
    with db.transaction(write=False) as session:
        found = session.get_one(Domain, domain_id)
        session.expunge(found)
        return found


def balance(db: Database, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        query = select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id)
        return int(session.scalar(query) or 0)


def events_of(db: Database, domain_id: uuid.UUID, kind: str) -> list[Event]:
    with db.transaction(write=False) as session:
        rows = session.scalars(
            select(Event).where(Event.subject_id == domain_id, Event.type == kind)
        ).all()
        session.expunge_all()
        return list(rows)


def renew_calls(fake: FakeNamecheap) -> int:
    return len(fake.commands("namecheap.domains.renew"))


def test_renewed_once_per_period_when_swept_twice(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    domain = bought(db, owner, fake)
    was = fake.expires(domain.name)
    assert sweep(api) == 1
    assert sweep(api) >= 0  # the second sweep finds the period started
    [renewal] = renewals(db, domain.id)
    assert renewal.status == "PENDING"
    assert renewal.dedupe_key == f"domain-renewal:{domain.id}:{was.isoformat()}"
    assert renewal.amount_cents == PRICE
    assert balance(db, owner.workspace_id) == 10_000 - PRICE

    run(api, renewal.id)
    run(api, renewal.id)  # a rerun finds it done
    [renewal] = renewals(db, domain.id)
    assert renewal.status == "SUCCEEDED"
    assert renewal.completed_at is not None
    assert renewal.registrar_order_id
    assert renew_calls(fake) == 1
    expires = the_domain(db, domain.id).registration_expires_at
    assert expires is not None
    assert expires.date() == date(was.year + 1, was.month, was.day)
    assert len(events_of(db, domain.id, "domain.renewed")) == 1

    sweep(api)  # the new period is a year away: nothing more
    assert len(renewals(db, domain.id)) == 1
    assert balance(db, owner.workspace_id) == 10_000 - PRICE


def test_killed_after_the_debit_the_next_sweep_renews_without_paying_again(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    domain = bought(db, owner, fake)
    sweep(api)  # debited and committed; its job is lost with the worker
    assert renew_calls(fake) == 0
    assert sweep(api) == 1  # handed out again, not paid again
    [renewal] = renewals(db, domain.id)
    run(api, renewal.id)
    assert renewals(db, domain.id)[0].status == "SUCCEEDED"
    assert renew_calls(fake) == 1
    assert balance(db, owner.workspace_id) == 10_000 - PRICE


def test_a_refusal_fails_it_and_refunds_once(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    fake.balance = 0  # the registrar account cannot pay
    domain = bought(db, owner, fake)
    sweep(api)
    [renewal] = renewals(db, domain.id)
    run(api, renewal.id)
    run(api, renewal.id)
    [renewal] = renewals(db, domain.id)
    assert renewal.status == "FAILED"
    assert "Insufficient funds" in (renewal.failure_reason or "")
    assert balance(db, owner.workspace_id) == 10_000
    assert len(events_of(db, domain.id, "domain.renewal_failed")) == 1
    sweep(api)  # the refused period is not tried again
    assert len(renewals(db, domain.id)) == 1
    assert renew_calls(fake) == 1


def test_a_lost_answer_is_resolved_by_the_expiry_without_renewing_twice(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    fake.lost_renewals = 1  # renewed at Namecheap, the answer lost
    domain = bought(db, owner, fake)
    was = fake.expires(domain.name)
    sweep(api)
    [renewal] = renewals(db, domain.id)
    run(api, renewal.id)
    assert renewals(db, domain.id)[0].status == "PENDING"
    run(api, renewal.id)  # its retry time has not come
    assert renew_calls(fake) == 1

    clock.advance(61)
    assert sweep(api) == 1
    run(api, renewal.id)
    [renewal] = renewals(db, domain.id)
    assert renewal.status == "SUCCEEDED"
    assert renew_calls(fake) == 1  # the expiry had moved: no second renewal
    assert fake.balance == 1_000_000 - 1458  # charged once at the registrar
    assert balance(db, owner.workspace_id) == 10_000 - PRICE  # and once in the wallet
    expires = the_domain(db, domain.id).registration_expires_at
    assert expires is not None
    assert expires.date() == date(was.year + 1, was.month, was.day)


def test_an_outage_before_the_renewal_is_retried_and_renews_once(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    fake.renew_outages = 1  # no renewal happened
    domain = bought(db, owner, fake)
    sweep(api)
    [renewal] = renewals(db, domain.id)
    run(api, renewal.id)
    clock.advance(61)
    sweep(api)
    run(api, renewal.id)
    assert renewals(db, domain.id)[0].status == "SUCCEEDED"
    assert len(fake.commands("namecheap.domains.getinfo")) == 1  # asked before calling again
    assert renew_calls(fake) == 2
    assert fake.balance == 1_000_000 - 1458
    assert balance(db, owner.workspace_id) == 10_000 - PRICE


def test_auto_renew_off_is_left_alone_and_expires(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    domain = bought(db, owner, fake, auto_renew=False)
    assert sweep(api) == 1  # its upcoming expiry is told (test_expiry), nothing renewed
    assert renewals(db, domain.id) == []
    clock.advance(11 * 86_400)
    assert sweep(api) == 1
    assert the_domain(db, domain.id).status == DomainStatus.EXPIRED
    [event] = events_of(db, domain.id, "domain.status_changed")
    assert event.data["previous"] == "ACTIVE"
    assert event.data["status"] == "EXPIRED"
    assert renew_calls(fake) == 0
    assert balance(db, owner.workspace_id) == 10_000


def test_a_workspace_without_auto_renew_is_left_alone(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    with db.transaction() as session:
        session.get_one(Workspace, owner.workspace_id).settings = {"domain_auto_renew": False}
    domain = bought(db, owner, fake)
    sweep(api)
    assert renewals(db, domain.id) == []
    assert balance(db, owner.workspace_id) == 10_000


def test_a_short_wallet_fails_it_with_nothing_debited(
    db: Database, api: TestClient, fake: FakeNamecheap
) -> None:
    poor = make_tenant(db)
    fund_wallet(db, poor.workspace_id, 100)
    domain = bought(db, poor, fake)
    sweep(api)
    [renewal] = renewals(db, domain.id)
    assert renewal.status == "FAILED"
    assert renewal.failure_reason == "insufficient_funds"
    assert renewal.amount_cents == 0
    assert balance(db, poor.workspace_id) == 100
    assert renew_calls(fake) == 0
    sweep(api)
    assert len(renewals(db, domain.id)) == 1
    clock.advance(11 * 86_400)
    sweep(api)
    assert the_domain(db, domain.id).status == DomainStatus.EXPIRED


def test_porkbun_refuses_renewals_and_the_debit_is_refunded(
    db: Database, make_client: Callable[..., TestClient], owner: Caller
) -> None:
    api = make_client(
        registrar="porkbun",
        porkbun_api_key="pk1_test",
        porkbun_secret_api_key="sk1_test",
        porkbun_api_base="http://127.0.0.1:9/api/json/v3",  # never called
    )
    domain = bought(db, owner, None, registrar="porkbun")
    sweep(api)
    [renewal] = renewals(db, domain.id)
    run(api, renewal.id)
    [renewal] = renewals(db, domain.id)
    assert renewal.status == "FAILED"
    assert (renewal.failure_reason or "").startswith("renewal_not_supported:")
    assert balance(db, owner.workspace_id) == 10_000
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(DomainRenewal)) == 1


def test_an_expired_domain_takes_no_new_mailbox_orders(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    domain = bought(db, owner, fake, auto_renew=False)
    clock.advance(11 * 86_400)
    sweep(api)
    response = api.post(ORDERS, json=order_body(domain.name, ["a"]), headers=owner.headers)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "domain_not_active"
    assert count_rows(db, MailboxOrder) == 0


def test_a_purchase_records_when_its_registration_ends(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    billing = f"/v1/workspaces/{owner.workspace_id}/billing"
    assert api.put(billing, json=BILLING, headers=owner.headers).status_code == 200
    response = api.post(
        "/v1/domain-purchases", json={"names": ["fresh.com"]}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    item = response.json()["items"][0]
    api.app.state.runtime.run_now("registrars.register", item["id"])  # type: ignore[attr-defined]
    with db.transaction(write=False) as session:
        domain = session.scalars(select(Domain).where(Domain.name == "fresh.com")).one()
        assert domain.registration_expires_at is not None
        assert domain.registration_expires_at.date() == fake.expires("fresh.com")


def test_a_renewal_charges_the_renewal_price_quoted_at_purchase(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    """Namecheap quotes .com at 9.58 to register and 14.58 to renew: the renewal a year on
    charges what the quote said it would, not the first-year price."""
    billing = f"/v1/workspaces/{owner.workspace_id}/billing"
    assert api.put(billing, json=BILLING, headers=owner.headers).status_code == 200
    response = api.post(
        "/v1/domain-purchases", json={"names": ["quoted.com"]}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    item = response.json()["items"][0]
    api.app.state.runtime.run_now("registrars.register", item["id"])  # type: ignore[attr-defined]
    with db.transaction() as session:
        domain = session.scalars(select(Domain).where(Domain.name == "quoted.com")).one()
        quoted = session.scalars(
            select(DomainPurchase.renewal_price_cents).where(
                DomainPurchase.id == uuid.UUID(item["id"])
            )
        ).one()
        domain.status = DomainStatus.ACTIVE
        domain.registration_expires_at = clock.now() + timedelta(days=5)
        domain_id = domain.id
    assert quoted is not None
    assert quoted != item["price_cents"]
    before = balance(db, owner.workspace_id)

    assert sweep(api) == 1
    [renewal] = renewals(db, domain_id)
    assert renewal.amount_cents == quoted
    assert balance(db, owner.workspace_id) == before - quoted


# --- the lead, upcoming expiries and expired domains -----------------------------------


def test_the_renewal_lead_is_seven_days_by_default(
    db: Database, make_client: Callable[..., TestClient], owner: Caller, fake: FakeNamecheap
) -> None:
    assert Settings.model_fields["domain_renewal_lead_days"].default == 7
    api = make_client(
        registrar="namecheap",
        namecheap_api_user="mfuser",
        namecheap_api_key="nc_test_key",
        namecheap_client_ip="127.0.0.1",
        namecheap_api_base=fake.base_url,
    )
    assert api.app.state.settings.domain_renewal_lead_days == 7  # type: ignore[attr-defined]
    domain = bought(db, owner, fake, days_left=10)
    sweep(api)
    assert renewals(db, domain.id) == []  # ten days out: not yet
    clock.advance(3 * DAY + 60)
    sweep(api)
    assert len(renewals(db, domain.id)) == 1


def test_a_domain_without_auto_renew_is_told_once_per_period(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    far = bought(db, owner, fake, days_left=30, auto_renew=False)
    soon = bought(db, owner, fake, days_left=5, auto_renew=False)
    assert sweep(api) == 1
    sweep(api)
    sweep(api)
    [event] = events_of(db, soon.id, "domain.expiring")
    assert event.data["name"] == soon.name
    assert event.data["days_left"] == 4
    assert event.data["auto_renew_off"] == "domain"
    assert event.data["expires_at"].startswith(fake.expires(soon.name).isoformat())
    assert events_of(db, far.id, "domain.expiring") == []
    assert renewals(db, soon.id) == []

    # Renewed by hand at the registrar: the new period is told again once in its window.
    with db.transaction() as session:
        purchase = session.scalars(
            select(DomainPurchase).where(DomainPurchase.domain_id == soon.id)
        ).one()
        assert purchase.expiry_notified_for is not None
        found = session.get_one(Domain, soon.id)
        assert found.registration_expires_at is not None
        found.registration_expires_at += timedelta(days=365)
    clock.advance(363 * DAY)
    sweep(api)
    assert len(events_of(db, soon.id, "domain.expiring")) == 2


def test_a_workspace_without_auto_renew_is_told(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    with db.transaction() as session:
        session.get_one(Workspace, owner.workspace_id).settings = {"domain_auto_renew": False}
    domain = bought(db, owner, fake)
    sweep(api)
    [event] = events_of(db, domain.id, "domain.expiring")
    assert event.data["auto_renew_off"] == "workspace"
    assert renewals(db, domain.id) == []


def test_a_domain_that_renews_itself_is_not_told(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    domain = bought(db, owner, fake)
    sweep(api)
    sweep(api)
    assert len(renewals(db, domain.id)) == 1
    assert events_of(db, domain.id, "domain.expiring") == []


def test_an_expired_domain_names_its_live_mailboxes(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    domain = bought(db, owner, fake, auto_renew=False)
    kept = [make_mailbox(db, domain, username=name) for name in ("ann", "bob")]
    make_mailbox(db, domain, username="gone", status=MailboxStatus.REMOVED)
    clock.advance(6 * DAY)
    sweep(api)
    sweep(api)
    assert the_domain(db, domain.id).status == DomainStatus.EXPIRED
    [event] = events_of(db, domain.id, "domain.expired")
    assert event.data["mailbox_count"] == 2
    assert sorted(event.data["mailbox_ids"]) == sorted(str(i) for i in kept)
    assert event.data["addresses"] == [f"ann@{domain.name}", f"bob@{domain.name}"]
    assert event.data["name"] == domain.name


def test_an_expired_domain_without_mailboxes_says_so(
    db: Database, api: TestClient, owner: Caller, fake: FakeNamecheap
) -> None:
    domain = bought(db, owner, fake, auto_renew=False)
    clock.advance(6 * DAY)
    sweep(api)
    [event] = events_of(db, domain.id, "domain.expired")
    assert event.data["mailbox_count"] == 0
    assert event.data["mailbox_ids"] == []
