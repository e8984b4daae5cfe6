"""A bought name to an ACTIVE domain with no manual step, on the real PowerDNS servers of the
DNS tests: paid once, registered once at the Porkbun fake with the assigned nameservers, and
once the registry publishes what the registrar set (the test's part: the parent's NS records),
the domain's own lifecycle makes it ACTIVE."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import DomainPurchase, Wallet
from tests.factories import fund_wallet, make_tenant
from tests.fakes.porkbun import API_KEY, SECRET, FakePorkbun
from tests.support.dns_fixtures import PARENT_ZONE, TEST_PAIR
from tests.support.jobs import drain
from tests.support.powerdns import PowerDNS


@pytest.fixture
def porkbun() -> Iterator[FakePorkbun]:
    with FakePorkbun() as fake:
        yield fake


def test_a_bought_name_becomes_active_on_its_own(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    unique_domain: Callable[[str], str],
    porkbun: FakePorkbun,
) -> None:
    client = make_client(
        **dns_overrides,
        registrar="porkbun",
        porkbun_api_key=API_KEY,
        porkbun_secret_api_key=SECRET,
        porkbun_api_base=porkbun.base_url,
    )
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    name = unique_domain("bought")

    bought = client.post("/v1/domain-purchases", json={"names": [name]}, headers=owner.headers)
    assert bought.status_code == 201, bought.text
    item = bought.json()["items"][0]
    assert item["nameservers"] == list(TEST_PAIR)
    drain(runtime)  # the registration job, then the new domain's zone job
    drain(runtime)
    with db.transaction(write=False) as session:
        purchase = session.get_one(DomainPurchase, uuid.UUID(item["id"]))
        domain_id = purchase.domain_id
        paid = session.scalar(
            select(Wallet.balance_cents).where(Wallet.workspace_id == owner.workspace_id)
        )
    assert purchase.status == "REGISTERED"
    assert domain_id is not None
    assert porkbun.nameservers[name] == list(TEST_PAIR)
    assert len(porkbun.calls("POST", r"/api/json/v3/domain/create/.*")) == 1
    found = client.get(f"/v1/domains/{domain_id}", headers=owner.headers).json()
    assert (found["status"], found["source"]) == ("PENDING_NS", "PURCHASED")

    # The registry publishes the registrar's nameservers; Mailfleet notices on its own.
    pdns_parent.delegate(PARENT_ZONE, name, porkbun.nameservers[name])
    clock.advance(3600)
    sweep(runtime)
    drain(runtime)
    found = client.get(f"/v1/domains/{domain_id}", headers=owner.headers).json()
    assert found["status"] == "ACTIVE"
    with db.transaction(write=False) as session:
        assert (
            session.scalar(
                select(Wallet.balance_cents).where(Wallet.workspace_id == owner.workspace_id)
            )
            == paid
        )  # nothing charged after the purchase
    assert 10_000 - paid == item["price_cents"]
