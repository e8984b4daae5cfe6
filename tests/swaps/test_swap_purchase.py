"""A swap onto a name bought in the same call, against the Namecheap fake: paid once from
the wallet, the swap waits for the registration, then goes on as for any new domain; a refused
registration fails the swap (the purchase refunds) and leaves the old mailboxes alone."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailfleet.db import Database
from mailfleet.models import Domain, DomainStatus, MailboxStatus, MailboxType, Wallet
from tests.factories import Caller, fund_wallet, give_slots, make_tenant
from tests.fakes.namecheap import FakeNamecheap, app_settings
from tests.registrars.test_namecheap import BILLING
from tests.support.jobs import drain
from tests.swaps.test_swaps import SWAPS, advance, statuses, swaps_of, with_mailboxes

USERS = ["ann", "bob"]


@pytest.fixture
def fake() -> Iterator[FakeNamecheap]:
    with FakeNamecheap() as running:
        yield running


@pytest.fixture
def api(make_client: Callable[..., TestClient], fake: FakeNamecheap) -> TestClient:
    return make_client(**app_settings(fake, recent_creation_rule="off"))


def owner_with_old_domain(db: Database, api: TestClient) -> tuple[Caller, Domain]:
    owner = make_tenant(db)
    billing = f"/v1/workspaces/{owner.workspace_id}/billing"
    assert api.put(billing, json=BILLING, headers=owner.headers).status_code == 200
    fund_wallet(db, owner.workspace_id, 10_000)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, len(USERS))
    return owner, with_mailboxes(db, api, owner, USERS)


def balance(db: Database, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        query = select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id)
        return int(session.scalar(query) or 0)


def register(api: TestClient, purchase_id: str) -> None:
    api.app.state.runtime.run_now("registrars.register", purchase_id)  # type: ignore[attr-defined]


def test_a_bought_name_takes_the_mailboxes_once_registered(
    db: Database, api: TestClient, fake: FakeNamecheap
) -> None:
    owner, old = owner_with_old_domain(db, api)
    body = {"from_domain_id": str(old.id), "to_domain": "bought-new.com", "buy": True}
    answer = api.post(SWAPS, json=body, headers=owner.headers)
    assert answer.status_code == 201, answer.text
    swap = answer.json()
    assert swap["to_domain_id"] is None
    assert swap["purchase_id"] is not None
    # Namecheap's 9.58 plus the default markup, debited once.
    paid = 10_000 - balance(db, owner.workspace_id)
    assert paid > 0

    # While the name registers, the swap waits.
    api.app.state.runtime.run_now("swaps.advance", swap["id"])  # type: ignore[attr-defined]
    waiting = api.get(f"{SWAPS}/{swap['id']}", headers=owner.headers).json()
    assert (waiting["status"], waiting["to_domain_id"]) == ("WAITING_FOR_DOMAIN", None)
    register(api, swap["purchase_id"])
    assert "bought-new.com" in fake.registered
    with db.transaction() as session:
        domain = session.scalars(select(Domain).where(Domain.name == "bought-new.com")).one()
        # The delegation is the registrar's job, done by the registration: ACTIVE here.
        session.execute(
            update(Domain).where(Domain.id == domain.id).values(status=DomainStatus.ACTIVE)
        )
    advance(api)
    placed = api.get(f"{SWAPS}/{swap['id']}", headers=owner.headers).json()
    assert placed["to_domain_id"] == str(domain.id)
    assert placed["status"] == "WAITING_FOR_MAILBOXES"
    assert [m["new_address"] for m in placed["mailboxes"]] == [f"{u}@bought-new.com" for u in USERS]
    assert balance(db, owner.workspace_id) == 10_000 - paid  # nothing more charged


def test_a_refused_registration_fails_the_swap_and_refunds(
    db: Database, api: TestClient, fake: FakeNamecheap
) -> None:
    owner, old = owner_with_old_domain(db, api)
    fake.balance = 100  # Namecheap: insufficient funds, a permanent refusal
    body = {"from_domain_id": str(old.id), "to_domain": "refused-new.com", "buy": True}
    swap = api.post(SWAPS, json=body, headers=owner.headers).json()
    register(api, swap["purchase_id"])
    advance(api)
    failed = api.get(f"{SWAPS}/{swap['id']}", headers=owner.headers).json()
    assert failed["status"] == "FAILED"
    assert "Insufficient funds" in failed["failure_reason"]
    assert balance(db, owner.workspace_id) == 10_000
    assert set(statuses(db, old.id).values()) == {MailboxStatus.ACTIVE}


def test_a_short_wallet_buys_nothing_and_records_no_swap(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    billing = f"/v1/workspaces/{owner.workspace_id}/billing"
    assert api.put(billing, json=BILLING, headers=owner.headers).status_code == 200
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 1)
    old = with_mailboxes(db, api, owner, ["ann"])
    drain(api.app.state.runtime)  # type: ignore[attr-defined]
    body = {"from_domain_id": str(old.id), "to_domain": "costly-new.com", "buy": True}
    answer = api.post(SWAPS, json=body, headers=owner.headers)
    assert answer.status_code == 402, answer.text
    assert answer.json()["code"] == "insufficient_funds"
    assert swaps_of(db, owner.workspace_id) == 0
    without_name = api.post(
        SWAPS, json={"from_domain_id": str(old.id), "buy": True}, headers=owner.headers
    )
    assert without_name.status_code == 422
