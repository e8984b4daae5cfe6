"""Quick setups on the native API: a purchase paid now, or by a payment link when the wallet is
short (the purchase going ahead from the paid webhook), and the mailboxes placed once the domain
is ACTIVE."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from mailfleet.db import Database
from mailfleet.jobs.queue import Runtime
from mailfleet.models import Domain, DomainPurchase, DomainStatus, Mailbox, MailboxType
from tests.billing.payments.conftest import post_event
from tests.compat.zapmail.test_registration import balance, count
from tests.factories import Caller, fund_wallet, give_slots, make_tenant
from tests.support.fake_stripe import FakeStripe
from tests.support.jobs import drain

NAME_CENTS = 1385  # a free name at the fake's price with the 25% markup


@pytest.fixture
def api(selling: Callable[..., TestClient]) -> TestClient:
    return selling()


def _runtime(api: TestClient) -> Runtime:
    runtime: Runtime = api.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def _create(api: TestClient, owner: Caller, **body: Any) -> Any:
    return api.post(
        "/v1/quick-setups", json={"names": ["acme-mail.com"], **body}, headers=owner.headers
    )


def _get(api: TestClient, owner: Caller, setup_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/quick-setups/{setup_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_a_funded_setup_buys_now_and_places_the_mailboxes_when_active(
    db: Database, api: TestClient
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 5_000)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 3)
    mailboxes = {"acme-mail.com": [{"username": "Sales", "first_name": "S", "last_name": "L"}]}

    response = _create(api, owner, mailbox_type="SMTP", mailboxes=mailboxes)

    assert response.status_code == 201, response.text
    started = response.json()
    assert (started["paid"], started["payment_url"], started["total_cents"]) == (
        True,
        None,
        NAME_CENTS,
    )
    assert balance(db, owner.workspace_id) == 5_000 - NAME_CENTS
    drain(_runtime(api))
    with db.transaction() as session:
        session.execute(
            update(Domain)
            .where(Domain.workspace_id == owner.workspace_id)
            .values(status=DomainStatus.ACTIVE)
        )
    _runtime(api).run_now("setups.advance", started["id"])

    found = _get(api, owner, started["id"])
    assert found["status"] == "DONE"
    [domain] = found["domains"]
    assert (domain["name"], domain["purchase_status"], domain["placed"]) == (
        "acme-mail.com",
        "REGISTERED",
        1,
    )
    assert count(db, Mailbox, owner.workspace_id) == 1


def test_a_short_wallet_gets_a_link_and_buys_once_it_is_paid(
    db: Database, api: TestClient, stripe_fake: FakeStripe
) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 1_000)

    response = _create(api, owner)

    assert response.status_code == 201, response.text
    started = response.json()
    assert started["paid"] is False
    assert started["payment_url"].startswith("https://checkout.stripe.com/")
    (session,) = stripe_fake.sessions.values()
    # The Checkout is for exactly what the wallet lacks.
    assert session["_params"]["line_items"][0]["price_data"]["unit_amount"] == str(
        NAME_CENTS - 1_000
    )
    assert count(db, DomainPurchase, owner.workspace_id) == 0

    paid = stripe_fake.complete(session["id"])
    assert post_event(api, stripe_fake, "checkout.session.completed", paid).status_code == 200
    _runtime(api).run_now("setups.advance", started["id"])

    assert _get(api, owner, started["id"])["status"] == "WAITING_FOR_DOMAINS"
    assert count(db, DomainPurchase, owner.workspace_id) == 1
    assert balance(db, owner.workspace_id) == 0


def test_bad_input_buys_nothing(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 5_000)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 3)

    stranger = _create(
        api,
        owner,
        mailboxes={"other.com": [{"username": "a", "first_name": "A", "last_name": "B"}]},
    )
    taken = _create(api, owner, names=["taken.com"])
    too_many = _create(api, owner, names=[f"n{i}.com" for i in range(21)])
    unknown_app = _create(api, owner, apps=["instantly", "nope"])

    assert (stranger.status_code, stranger.json()["code"]) == (422, "validation_error")
    assert (taken.status_code, taken.json()["code"]) == (422, "names_not_for_sale")
    assert too_many.status_code == 422
    assert (unknown_app.status_code, unknown_app.json()["field"]) == (422, "apps[1]")
    assert balance(db, owner.workspace_id) == 5_000
    assert count(db, DomainPurchase, owner.workspace_id) == 0


def test_another_workspaces_setup_is_404(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 5_000)
    setup_id = _create(api, owner).json()["id"]

    response = api.get(f"/v1/quick-setups/{setup_id}", headers=make_tenant(db).headers)
    missing = api.get(f"/v1/quick-setups/{uuid.uuid4()}", headers=owner.headers)

    assert (response.status_code, response.json()["code"]) == (404, "quick_setup_not_found")
    assert missing.status_code == 404
