"""Buying domains: priced, paid once from the wallet, registered once by the worker (retried
or killed), nameservers set at the registrar, the domain on its lifecycle; refunded once when
the registrar refuses."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainPurchase, DomainSource, DomainStatus, Wallet, WalletEntry
from mailfleet.registrars import tasks
from tests.factories import Caller, fund_wallet, make_domain, make_tenant
from tests.fakes.porkbun import API_KEY, SECRET, FakePorkbun

REGISTER = "registrars.register"


@pytest.fixture
def fake() -> Iterator[FakePorkbun]:
    with FakePorkbun(taken={"taken.com"}, premium={"gold.com"}) as fake:
        yield fake


@pytest.fixture
def api(make_client: Callable[..., TestClient], fake: FakePorkbun) -> TestClient:
    return make_client(
        registrar="porkbun",
        porkbun_api_key=API_KEY,
        porkbun_secret_api_key=SECRET,
        porkbun_api_base=fake.base_url,
        domain_price_markup_percent=20,
    )


@pytest.fixture
def owner(db: Database) -> Caller:
    caller = make_tenant(db)
    fund_wallet(db, caller.workspace_id, 10_000)
    return caller


def balance(db: Database, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        return int(
            session.scalar(select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id))
            or 0
        )


def entries(db: Database, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WalletEntry)
                .where(WalletEntry.workspace_id == workspace_id)
            )
            or 0
        )


def purchase_row(db: Database, purchase_id: str) -> DomainPurchase:
    with db.transaction(write=False) as session:
        found = session.get_one(DomainPurchase, uuid.UUID(purchase_id))
        session.expunge(found)
        return found


def run(api: TestClient, purchase_id: str) -> None:
    api.app.state.runtime.run_now(REGISTER, purchase_id)  # type: ignore[attr-defined]


def buy(api: TestClient, owner: Caller, names: list[str], **extra: Any) -> Any:
    return api.post("/v1/domain-purchases", json={"names": names, **extra}, headers=owner.headers)


def test_a_dry_run_prices_and_changes_nothing(db: Database, api: TestClient, owner: Caller) -> None:
    response = buy(api, owner, ["buy-one.com", "buy-two.com"], dry_run=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_cents"] == 2 * 1330  # ceil(1108 * 1.2) each
    assert [i["verdict"] for i in body["items"]] == ["AVAILABLE", "AVAILABLE"]
    assert balance(db, owner.workspace_id) == 10_000
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(DomainPurchase)) == 0


def test_bought_paid_once_registered_once_and_delegated(
    db: Database, api: TestClient, owner: Caller, fake: FakePorkbun
) -> None:
    response = buy(api, owner, ["buy-one.com", "buy-two.com"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["total_cents"] == 2660
    assert balance(db, owner.workspace_id) == 10_000 - 2660
    items = body["items"]
    assert [i["status"] for i in items] == ["PENDING", "PENDING"]

    for item in items:
        run(api, item["id"])
        run(api, item["id"])  # a rerun finds it done
    assert len(fake.calls("POST", r"/api/json/v3/domain/create/.*")) == 2
    for item in items:
        found = purchase_row(db, item["id"])
        assert found.status == "REGISTERED"
        assert fake.nameservers[found.name] == item["nameservers"]
        with db.transaction(write=False) as session:
            domain = session.get_one(Domain, found.domain_id)
            assert domain.source == DomainSource.PURCHASED
            assert domain.status == DomainStatus.QUEUED
            assert [domain.nameserver_1, domain.nameserver_2] == item["nameservers"]
    listed = api.get("/v1/domain-purchases?status=REGISTERED", headers=owner.headers).json()
    assert {i["name"] for i in listed["items"]} == {"buy-one.com", "buy-two.com"}
    # The registrar was paid its own price, the workspace Mailfleet's.
    assert fake.balance == 1_000_000 - 2 * 1108


def test_a_worker_killed_after_the_call_registers_it_once(
    db: Database, api: TestClient, owner: Caller, fake: FakePorkbun, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = buy(api, owner, ["killed.com"]).json()["items"][0]

    def crash(*args: object) -> None:
        raise RuntimeError("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(tasks, "_registered", crash)
        with pytest.raises(RuntimeError):
            run(api, item["id"])
    assert purchase_row(db, item["id"]).status == "REGISTERING"
    run(api, item["id"])  # within the lease: held by the dead worker, nothing happens
    assert purchase_row(db, item["id"]).status == "REGISTERING"

    clock.advance(api.app.state.settings.job_lease_seconds + 1)  # type: ignore[attr-defined]
    assert sweep(api.app.state.runtime) >= 1  # type: ignore[attr-defined]
    run(api, item["id"])
    assert purchase_row(db, item["id"]).status == "REGISTERED"
    assert len(fake.registered) == 1
    assert fake.balance == 1_000_000 - 1108  # the replayed create charged nothing more


def test_a_passing_failure_is_retried_later(
    db: Database, api: TestClient, owner: Caller, fake: FakePorkbun
) -> None:
    fake.outages = 1
    item = buy(api, owner, ["flaky.com"]).json()["items"][0]
    run(api, item["id"])
    found = purchase_row(db, item["id"])
    assert found.status == "PENDING"
    assert "unavailable" in (found.failure_reason or "")
    run(api, item["id"])  # not due yet
    assert purchase_row(db, item["id"]).status == "PENDING"
    clock.advance(61)
    sweep(api.app.state.runtime)  # type: ignore[attr-defined]
    run(api, item["id"])
    assert purchase_row(db, item["id"]).status == "REGISTERED"


def test_a_refusal_fails_it_and_refunds_once(
    db: Database, api: TestClient, owner: Caller, fake: FakePorkbun
) -> None:
    fake.balance = 100  # the registrar account cannot pay
    item = buy(api, owner, ["refused.com"]).json()["items"][0]
    paid = balance(db, owner.workspace_id)
    assert paid == 10_000 - 1330
    run(api, item["id"])
    run(api, item["id"])
    found = purchase_row(db, item["id"])
    assert found.status == "FAILED"
    assert "Insufficient funds" in (found.failure_reason or "")
    assert found.domain_id is None
    assert balance(db, owner.workspace_id) == 10_000
    before = entries(db, owner.workspace_id)
    with db.transaction() as session:
        from mailfleet.registrars.purchases import refund

        refund(session, session.get_one(DomainPurchase, found.id), actor="test")
    assert entries(db, owner.workspace_id) == before  # the same refund never applies twice
    shown = api.get(f"/v1/domain-purchases/{item['id']}", headers=owner.headers).json()
    assert shown["status"] == "FAILED"
    assert "Insufficient funds" in shown["failure_reason"]


def test_refusals_change_nothing(
    db: Database, api: TestClient, owner: Caller, fake: FakePorkbun
) -> None:
    other = make_tenant(db)
    make_domain(db, other.workspace_id, name="held.com")
    cases = [
        (["taken.com"], 422, "names_not_for_sale"),
        (["gold.com"], 422, "names_not_for_sale"),
        (["held.com"], 422, "names_not_for_sale"),
        (["a.com", "a.com"], 422, "duplicate_names"),
        ([f"n{i}.com" for i in range(21)], 422, "too_many_names"),
    ]
    for names, status, code in cases:
        response = buy(api, owner, names)
        assert response.status_code == status, response.text
        assert response.json()["code"] == code
    two_years = buy(api, owner, ["free.com"], years=2)
    assert two_years.json()["code"] == "too_many_years"
    poor = make_tenant(db)
    short = buy(api, poor, ["free.com"])
    assert short.status_code == 402
    assert short.json()["code"] == "insufficient_funds"
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(DomainPurchase)) == 0
    assert balance(db, owner.workspace_id) == 10_000
    assert fake.registered == {}


def test_a_name_is_bought_once(db: Database, api: TestClient, owner: Caller) -> None:
    assert buy(api, owner, ["once.com"]).status_code == 201
    again = buy(api, make_tenant(db), ["once.com"])
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "domain_taken"
