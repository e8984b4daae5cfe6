"""The Namecheap adapter against a local fake of its documented XML API, and purchases through
/v1/domain-purchases with registrar="namecheap"."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import DomainPurchase, Wallet
from mailfleet.registrars.namecheap import Namecheap
from mailfleet.registrars.protocol import (
    Contact,
    RegistrarError,
    TransientRegistrarError,
    Verdict,
)
from tests.factories import Caller, fund_wallet, make_tenant
from tests.fakes.namecheap import API_KEY, API_USER, CLIENT_IP, FakeNamecheap

REGISTER = "registrars.register"
CONTACT = Contact(
    organization="Acme Outreach Ltd",
    email="billing@acme.example",
    address1="1 Main Street",
    city="Springfield",
    postal_code="12345",
    country="US",
    phone="+1.5555555555",
)
BILLING = {
    "company_name": "Acme Outreach Ltd",
    "contact_email": "billing@acme.example",
    "address_line1": "1 Main Street",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}
NAMESERVERS = ["ns1.mailfleet.test", "ns2.mailfleet.test"]


@pytest.fixture
def fake() -> Iterator[FakeNamecheap]:
    with FakeNamecheap(taken={"taken.com"}, premium={"gold.com"}, unsupported_tlds={"uk"}) as f:
        yield f


def credentials(fake: FakeNamecheap, **overrides: Any) -> dict[str, Any]:
    return {
        "namecheap_api_user": API_USER,
        "namecheap_api_key": API_KEY,
        "namecheap_client_ip": CLIENT_IP,
        "namecheap_api_base": fake.base_url,
        **overrides,
    }


def namecheap(fake: FakeNamecheap, tmp_path: Path, **overrides: Any) -> Namecheap:
    values = credentials(fake, **overrides)
    values["namecheap_api_key"] = SecretStr(values["namecheap_api_key"])
    return Namecheap(Settings(data_dir=tmp_path, **values))


def test_verdicts_with_prices_from_the_pricing_call(fake: FakeNamecheap, tmp_path: Path) -> None:
    client = namecheap(fake, tmp_path)
    answers = client.check(["free.com", "taken.com", "gold.com", "acme.uk"])
    assert [a.verdict for a in answers] == [
        Verdict.AVAILABLE,
        Verdict.TAKEN,
        Verdict.PREMIUM,
        Verdict.UNSUPPORTED,
    ]
    assert answers[0].price_cents == 958
    assert answers[2].price_cents == 240_000
    assert "does not sell .uk" in answers[3].reason
    checks = fake.commands("namecheap.domains.check")
    assert len(checks) == 1
    # The unsupported TLD's name is never sent to the check.
    assert checks[0].params["DomainList"] == "free.com,taken.com,gold.com"
    assert {k: checks[0].params[k] for k in ("ApiUser", "ApiKey", "UserName", "ClientIp")} == {
        "ApiUser": API_USER,
        "ApiKey": API_KEY,
        "UserName": API_USER,
        "ClientIp": CLIENT_IP,
    }
    pricing = fake.commands("namecheap.users.getpricing")
    assert sorted(r.params["ProductName"] for r in pricing) == ["COM", "UK"]
    # Every action in one call per TLD: the renewal price comes with the first year's.
    assert {(r.params["ProductType"], r.params.get("ActionName")) for r in pricing} == {
        ("DOMAIN", None)
    }
    assert answers[0].renewal_cents == 1458


def test_names_are_checked_in_batches_and_prices_cached_per_tld(
    fake: FakeNamecheap, tmp_path: Path
) -> None:
    client = namecheap(fake, tmp_path)
    names = [f"name{i}.com" for i in range(45)]
    answers = client.check(names)
    assert [a.name for a in answers] == names
    assert {a.verdict for a in answers} == {Verdict.AVAILABLE}
    batches = [r.params["DomainList"].split(",") for r in fake.commands("namecheap.domains.check")]
    assert [len(batch) for batch in batches] == [20, 20, 5]
    client.check(["again.com"])
    assert len(fake.commands("namecheap.users.getpricing")) == 1  # one pricing call per TLD


def test_a_stale_price_is_fetched_again(fake: FakeNamecheap, tmp_path: Path) -> None:
    client = namecheap(fake, tmp_path, namecheap_pricing_cache_seconds=0)
    client.check(["one.com"])
    client.check(["two.com"])
    assert len(fake.commands("namecheap.users.getpricing")) == 2


def test_a_refused_account_is_an_error_not_a_verdict(fake: FakeNamecheap, tmp_path: Path) -> None:
    client = namecheap(fake, tmp_path, namecheap_client_ip="203.0.113.9")
    with pytest.raises(RegistrarError, match="Invalid request IP"):
        client.check(["free.com"])


def test_an_unreachable_api_is_transient(tmp_path: Path) -> None:
    with FakeNamecheap() as gone:
        base = gone.base_url
    client = namecheap(gone, tmp_path, namecheap_api_base=base)
    with pytest.raises(TransientRegistrarError, match="could not be reached"):
        client.check(["free.com"])


def test_create_sends_every_contact_and_privacy(fake: FakeNamecheap, tmp_path: Path) -> None:
    client = namecheap(fake, tmp_path)
    done = client.register(
        "fresh.com",
        years=2,
        cost_cents=958,
        nameservers=NAMESERVERS,
        idempotency_key=str(uuid.uuid4()),
        contact=CONTACT,
    )
    assert done.order_id == "50001"
    (create,) = fake.commands("namecheap.domains.create")
    assert create.method == "POST"
    sent = create.params
    assert (sent["DomainName"], sent["Years"]) == ("fresh.com", "2")
    assert sent["Nameservers"] == ",".join(NAMESERVERS)
    assert (sent["AddFreeWhoisguard"], sent["WGEnabled"]) == ("yes", "yes")
    for role in ("Registrant", "Tech", "Admin", "AuxBilling"):
        assert sent[f"{role}OrganizationName"] == "Acme Outreach Ltd"
        assert sent[f"{role}EmailAddress"] == "billing@acme.example"
        assert sent[f"{role}Phone"] == "+1.5555555555"
        assert sent[f"{role}Country"] == "US"
        assert sent[f"{role}StateProvince"] == "Springfield"  # no state given: the city
    assert fake.nameservers["fresh.com"] == NAMESERVERS
    assert fake.balance == 1_000_000 - 2 * 958
    assert not fake.commands("namecheap.domains.getinfo")  # a first attempt looks nothing up


def test_insufficient_funds_is_permanent(fake: FakeNamecheap, tmp_path: Path) -> None:
    fake.balance = 100
    client = namecheap(fake, tmp_path)
    with pytest.raises(RegistrarError, match="Insufficient funds") as refused:
        client.register(
            "poor.com",
            years=1,
            cost_cents=958,
            nameservers=NAMESERVERS,
            idempotency_key="k",
            contact=CONTACT,
        )
    assert not isinstance(refused.value, TransientRegistrarError)


def test_a_contact_is_required(fake: FakeNamecheap, tmp_path: Path) -> None:
    client = namecheap(fake, tmp_path)
    with pytest.raises(RegistrarError, match="billing details"):
        client.register(
            "x.com", years=1, cost_cents=958, nameservers=NAMESERVERS, idempotency_key="k"
        )
    no_phone = Contact(**{**CONTACT.__dict__, "phone": ""})
    with pytest.raises(RegistrarError, match="MAILFLEET_REGISTRAR_CONTACT_PHONE"):
        client.register(
            "x.com",
            years=1,
            cost_cents=958,
            nameservers=NAMESERVERS,
            idempotency_key="k",
            contact=no_phone,
        )
    assert not fake.commands("namecheap.domains.create")


# --- purchases through the API -----------------------------------------------------------


@pytest.fixture
def api(make_client: Callable[..., TestClient], fake: FakeNamecheap) -> TestClient:
    return make_client(
        registrar="namecheap",
        registrar_contact_phone="+1.5555555555",
        domain_price_markup_percent=20,
        **credentials(fake),
    )


def owner_with_billing(db: Database, api: TestClient) -> Caller:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    response = api.put(
        f"/v1/workspaces/{owner.workspace_id}/billing", json=BILLING, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    return owner


def buy(api: TestClient, owner: Caller, names: list[str]) -> dict[str, Any]:
    response = api.post("/v1/domain-purchases", json={"names": names}, headers=owner.headers)
    assert response.status_code == 201, response.text
    return dict(response.json()["items"][0])


def run(api: TestClient, purchase_id: str) -> None:
    api.app.state.runtime.run_now(REGISTER, purchase_id)  # type: ignore[attr-defined]


def purchase(db: Database, purchase_id: str) -> DomainPurchase:
    with db.transaction(write=False) as session:
        found = session.get_one(DomainPurchase, uuid.UUID(purchase_id))
        session.expunge(found)
        return found


def balance(db: Database, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        query = select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id)
        return int(session.scalar(query) or 0)


def test_a_lost_answer_is_retried_without_buying_twice(
    db: Database, api: TestClient, fake: FakeNamecheap
) -> None:
    owner = owner_with_billing(db, api)
    fake.lost_answers = 1  # registered at Namecheap, but the answer never came back
    item = buy(api, owner, ["outage.com"])
    run(api, item["id"])
    assert purchase(db, item["id"]).status == "PENDING"
    clock.advance(61)
    sweep(api.app.state.runtime)  # type: ignore[attr-defined]
    run(api, item["id"])
    found = purchase(db, item["id"])
    assert found.status == "REGISTERED"
    assert len(fake.commands("namecheap.domains.create")) == 1
    assert len(fake.commands("namecheap.domains.getinfo")) == 1
    assert fake.balance == 1_000_000 - 958
    assert fake.nameservers["outage.com"] == item["nameservers"]
    sent = fake.registered["outage.com"]
    assert sent["RegistrantOrganizationName"] == "Acme Outreach Ltd"
    assert sent["RegistrantEmailAddress"] == "billing@acme.example"
    assert balance(db, owner.workspace_id) == 10_000 - 1150  # ceil(958 * 1.2), paid once


def test_an_outage_before_the_order_is_retried_and_bought_once(
    db: Database, api: TestClient, fake: FakeNamecheap
) -> None:
    owner = owner_with_billing(db, api)
    fake.outages = 1
    item = buy(api, owner, ["flaky.com"])
    run(api, item["id"])
    assert "HTTP 503" in (purchase(db, item["id"]).failure_reason or "")
    clock.advance(61)
    sweep(api.app.state.runtime)  # type: ignore[attr-defined]
    run(api, item["id"])
    assert purchase(db, item["id"]).status == "REGISTERED"
    assert list(fake.registered) == ["flaky.com"]
    assert fake.balance == 1_000_000 - 958


def test_without_billing_details_the_purchase_fails_and_is_refunded(
    db: Database, api: TestClient, fake: FakeNamecheap
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 10_000)
    item = buy(api, owner, ["nobody.com"])
    run(api, item["id"])
    found = purchase(db, item["id"])
    assert found.status == "FAILED"
    assert "billing details" in (found.failure_reason or "")
    assert balance(db, owner.workspace_id) == 10_000
    assert fake.registered == {}


def test_insufficient_funds_at_namecheap_fails_and_refunds(
    db: Database, api: TestClient, fake: FakeNamecheap
) -> None:
    owner = owner_with_billing(db, api)
    fake.balance = 100
    item = buy(api, owner, ["refused.com"])
    run(api, item["id"])
    found = purchase(db, item["id"])
    assert found.status == "FAILED"
    assert "Insufficient funds" in (found.failure_reason or "")
    assert balance(db, owner.workspace_id) == 10_000


def test_availability_through_the_api(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    response = api.post(
        "/v1/domain-availability",
        json={"names": ["free.com", "taken.com", "gold.com", "acme.uk"]},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["verdict"] for i in items] == ["AVAILABLE", "TAKEN", "PREMIUM", "UNSUPPORTED"]
    assert (items[0]["registrar"], items[0]["registrar_price_cents"]) == ("namecheap", 958)
    assert items[0]["price_cents"] == 1150


@pytest.mark.parametrize(("cap", "refused"), [(2, False), (0, True)])
def test_calls_past_the_cap_wait_their_turn(
    fake: FakeNamecheap, tmp_path: Path, cap: int, refused: bool
) -> None:
    """Namecheap serves 2 calls at once and refuses the third (429): with the cap at 2, six
    users checking at the same moment all get their answer; without it some are refused."""
    fake.latency, fake.max_concurrency = 0.2, 2
    client = namecheap(fake, tmp_path, registrar_max_concurrency=cap)
    client.check(["warm.com"])  # the .com price, cached: each check is then one call
    answers: list[object] = []

    def check(index: int) -> None:
        try:
            answers.append(client.check([f"user{index}.com"])[0].verdict)
        except RegistrarError as exc:
            answers.append(exc)

    threads = [threading.Thread(target=check, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert (fake.refused > 0) is refused
    if not refused:
        assert answers == [Verdict.AVAILABLE] * 6
        assert fake.peak <= 2
