"""Several registrar accounts and their daily cap: purchases spread over the accounts (the
fewest registrations today first), refused up front with nothing debited once every account is
at its cap, free again the next UTC day; registrations and renewals go to the account that
bought the name; concurrent purchases never pass the cap together."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models import DomainPurchase, DomainPurchaseStatus, Wallet, WalletEntry
from mailfleet.registrars import purchases
from mailfleet.registrars.protocol import Verdict
from mailfleet.registrars.renewals import RENEW, sweep_renewals
from mailfleet.registrars.service import Offer
from tests.factories import Caller, fund_wallet, make_tenant
from tests.fakes import namecheap as nc
from tests.fakes.porkbun import API_KEY, SECRET, FakePorkbun
from tests.registrars.test_renewals import bought, renewals

KEY_2, SECRET_2 = "pk1_second", "sk1_second"
SECOND = {"name": "pb2", "registrar": "porkbun", "api_key": KEY_2, "secret_api_key": SECRET_2}
REGISTER = "registrars.register"


def to_early_tomorrow() -> None:
    """01:00 UTC of the next day: a test's purchases all fall in one UTC day."""
    now = clock.now()
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(1), now.tzinfo)
    clock.advance((tomorrow - now).total_seconds())


@pytest.fixture
def fake() -> Iterator[FakePorkbun]:
    with FakePorkbun(keys={KEY_2: SECRET_2}) as running:
        yield running


@pytest.fixture
def api(make_client: Callable[..., TestClient], fake: FakePorkbun) -> TestClient:
    to_early_tomorrow()
    return make_client(
        registrar="porkbun",
        porkbun_api_key=API_KEY,
        porkbun_secret_api_key=SECRET,
        porkbun_api_base=fake.base_url,
        registrar_accounts=[SECOND],
        registrar_daily_cap=2,
    )


@pytest.fixture
def owner(db: Database) -> Caller:
    caller = make_tenant(db)
    fund_wallet(db, caller.workspace_id, 100_000)
    return caller


def buy(api: TestClient, owner: Caller, *names: str) -> Any:
    return api.post("/v1/domain-purchases", json={"names": list(names)}, headers=owner.headers)


def balance(db: Database, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        query = select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id)
        return int(session.scalar(query) or 0)


def counted(db: Database, model: type[Any]) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def accounts_of(db: Database) -> dict[str, str]:
    with db.transaction(write=False) as session:
        rows = session.execute(select(DomainPurchase.name, DomainPurchase.registrar_account))
        return {name: account for name, account in rows}


def test_spread_over_two_accounts_then_refused_until_tomorrow(
    db: Database, api: TestClient, owner: Caller, fake: FakePorkbun
) -> None:
    bought_ids = []
    for i in range(4):
        response = buy(api, owner, f"spread-{i}.com")
        assert response.status_code == 201, response.text
        bought_ids.append(response.json()["items"][0]["id"])
    assert accounts_of(db) == {
        "spread-0.com": "default",
        "spread-1.com": "pb2",
        "spread-2.com": "default",
        "spread-3.com": "pb2",
    }
    paid = balance(db, owner.workspace_id)
    assert paid == 100_000 - 4 * 1330
    entries = counted(db, WalletEntry)

    refused = buy(api, owner, "spread-4.com")
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "registrar_daily_cap_reached"
    assert 23 * 3600 - 300 < int(refused.headers["Retry-After"]) <= 23 * 3600  # to midnight
    assert balance(db, owner.workspace_id) == paid  # nothing debited
    assert counted(db, WalletEntry) == entries
    assert counted(db, DomainPurchase) == 4

    # Each registration is made with the key of the account it was placed on.
    for purchase_id in bought_ids:
        api.app.state.runtime.run_now(REGISTER, purchase_id)  # type: ignore[attr-defined]
    keys = {name: found["apikey"] for name, found in fake.registered.items()}
    assert keys == {
        "spread-0.com": API_KEY,
        "spread-1.com": KEY_2,
        "spread-2.com": API_KEY,
        "spread-3.com": KEY_2,
    }

    clock.advance(23 * 3600)  # the next UTC day
    again = buy(api, owner, "spread-4.com")
    assert again.status_code == 201, again.text
    assert accounts_of(db)["spread-4.com"] == "default"


def test_a_purchase_that_does_not_fit_is_refused_whole(
    db: Database, api: TestClient, owner: Caller, fake: FakePorkbun
) -> None:
    assert buy(api, owner, "a-1.com", "a-2.com", "a-3.com").status_code == 201
    assert sorted(accounts_of(db).values()) == ["default", "default", "pb2"]
    paid = balance(db, owner.workspace_id)
    refused = buy(api, owner, "b-1.com", "b-2.com")  # room for one
    assert refused.status_code == 409
    assert "room for 1 more" in refused.json()["detail"]
    assert balance(db, owner.workspace_id) == paid
    assert counted(db, DomainPurchase) == 3
    assert buy(api, owner, "b-1.com").status_code == 201


def test_a_refused_registration_frees_its_place(
    db: Database, api: TestClient, owner: Caller, fake: FakePorkbun
) -> None:
    items = buy(api, owner, "c-1.com", "c-2.com", "c-3.com", "c-4.com").json()["items"]
    assert buy(api, owner, "c-5.com").status_code == 409
    fake.balance = 0  # the registrar refuses the next one
    api.app.state.runtime.run_now(REGISTER, items[0]["id"])  # type: ignore[attr-defined]
    with db.transaction(write=False) as session:
        found = session.get_one(DomainPurchase, uuid.UUID(items[0]["id"]))
        assert found.status == DomainPurchaseStatus.FAILED
    assert buy(api, owner, "c-5.com").status_code == 201


def test_without_a_cap_purchases_still_spread(
    db: Database, make_client: Callable[..., TestClient], owner: Caller, fake: FakePorkbun
) -> None:
    to_early_tomorrow()
    api = make_client(
        registrar="porkbun",
        porkbun_api_key=API_KEY,
        porkbun_secret_api_key=SECRET,
        porkbun_api_base=fake.base_url,
        registrar_accounts=[SECOND],
    )
    response = buy(api, owner, *[f"free-{i}.com" for i in range(5)])
    assert response.status_code == 201, response.text
    assert sorted(accounts_of(db).values()) == ["default"] * 3 + ["pb2"] * 2


def test_concurrent_purchases_never_pass_the_cap(
    db: Database, make_settings: Callable[..., Settings], fake: FakePorkbun
) -> None:
    """Two workspaces buy at once with one place left: one gets it, the other is refused."""
    to_early_tomorrow()
    settings = make_settings(
        registrar="porkbun", registrar_accounts=[SECOND], registrar_daily_cap=1
    )
    buyers = [make_tenant(db) for _ in range(2)]
    for caller in buyers:
        fund_wallet(db, caller.workspace_id, 10_000)
    with db.transaction() as session:  # the default account's place is taken
        quote = purchases.quote([_offer("first.com")], 1, 1)
        purchases.purchase(
            session,
            settings,
            quote,
            registrar="porkbun",
            workspace_id=buyers[0].workspace_id,
            actor="test",
        )
    holding = threading.Event()
    release = threading.Event()
    outcomes: dict[int, str] = {}

    def attempt(index: int) -> None:
        try:
            with db.transaction() as session:
                purchases.purchase(
                    session,
                    settings,
                    purchases.quote([_offer(f"race-{index}.com")], 1, 1),
                    registrar="porkbun",
                    workspace_id=buyers[index].workspace_id,
                    actor="test",
                )
                if index == 0:
                    holding.set()
                    release.wait(10)
            outcomes[index] = "bought"
        except Conflict as exc:
            outcomes[index] = exc.code

    first = threading.Thread(target=attempt, args=(0,))
    first.start()
    assert holding.wait(10)
    second = threading.Thread(target=attempt, args=(1,))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first purchase's lock
    release.set()
    first.join(10)
    second.join(10)
    assert outcomes == {0: "bought", 1: "registrar_daily_cap_reached"}
    assert balance(db, buyers[1].workspace_id) == 10_000
    assert counted(db, DomainPurchase) == 2


def _offer(name: str) -> Offer:
    return Offer(name, Verdict.AVAILABLE, "porkbun", 1108, 1330, None, "USD", "")


def test_a_renewal_goes_to_the_account_that_bought_it(
    db: Database, make_client: Callable[..., TestClient], owner: Caller
) -> None:
    with nc.FakeNamecheap(users={"mf2": "nc_key_2"}) as fake:
        api = make_client(
            registrar="namecheap",
            namecheap_api_user=nc.API_USER,
            namecheap_api_key=nc.API_KEY,
            namecheap_client_ip=nc.CLIENT_IP,
            namecheap_api_base=fake.base_url,
            registrar_accounts=[
                {"name": "nc2", "registrar": "namecheap", "api_user": "mf2", "api_key": "nc_key_2"}
            ],
        )
        domain = bought(db, owner, fake)
        with db.transaction() as session:
            purchase = session.scalars(
                select(DomainPurchase).where(DomainPurchase.domain_id == domain.id)
            ).one()
            purchase.registrar_account = "nc2"
        sweep_renewals(api.app.state.runtime)  # type: ignore[attr-defined]
        [renewal] = renewals(db, domain.id)
        api.app.state.runtime.run_now(RENEW, str(renewal.id))  # type: ignore[attr-defined]
        assert renewals(db, domain.id)[0].status == "SUCCEEDED"
        [call] = fake.commands("namecheap.domains.renew")
        assert call.params["ApiUser"] == "mf2"
        assert call.params["ApiKey"] == "nc_key_2"


@pytest.mark.parametrize(
    "accounts",
    [
        [{**SECOND, "name": "default"}],
        [SECOND, SECOND],
        [{**SECOND, "registrar": "namecheap"}],
        [{**SECOND, "apikey": "typo"}],
    ],
)
def test_bad_account_lists_are_refused(
    make_settings: Callable[..., Settings], accounts: list[dict[str, str]]
) -> None:
    with pytest.raises(ValidationError):
        make_settings(registrar="porkbun", registrar_accounts=accounts)


def test_accounts_are_read_from_json_and_never_shown(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "MAILFLEET_REGISTRAR_ACCOUNTS",
        '[{"name": "pb2", "registrar": "porkbun", "api_key": "pk-x", '
        '"secret_api_key": "sk-hidden-7c1"}]',
    )
    monkeypatch.setenv("MAILFLEET_REGISTRAR_DAILY_CAP", "3")
    settings = Settings(registrar="porkbun", _env_file=None)  # type: ignore[call-arg]
    [account] = settings.registrar_accounts
    assert account.name == "pb2"
    assert account.secret_api_key.get_secret_value() == "sk-hidden-7c1"
    assert settings.registrar_daily_cap == 3
    assert "sk-hidden-7c1" not in repr(settings)
    assert "sk-hidden-7c1" not in settings.model_dump_json()
