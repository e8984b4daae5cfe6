"""The mailbox list with its filters, and the operator console: the queue of manual orders and
fulfilling one through its forms (credentials, notes, fail with a reason)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Mailbox, MailboxOrder, MailboxStatus, MailboxType, OrderStatus
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.factories import (
    Caller,
    give_slots,
    make_domain,
    make_mailbox,
    make_tenant,
    order_body,
)


@pytest.fixture
def off(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(recent_creation_rule="off")


def _order(db: Database, client: TestClient, usernames: list[str]) -> tuple[Caller, dict[str, Any]]:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    domain = make_domain(db, owner.workspace_id)
    answer = client.post(
        "/v1/mailbox-orders", json=order_body(domain, usernames), headers=owner.headers
    )
    assert answer.status_code == 201, answer.text
    return owner, answer.json()


@pytest.fixture
def operator(db: Database) -> Caller:
    staff = make_tenant(db, operator=True)
    set_password(db, staff.user_id)
    return staff


def _status(db: Database, model: type[Any], row_id: str) -> Any:
    with db.transaction() as session:
        return session.get_one(model, uuid.UUID(row_id)).status


def test_the_mailbox_list_filters_and_shows_only_the_workspaces(
    console: TestClient, owner: Caller, db: Database
) -> None:
    domain = make_domain(db, owner.workspace_id, name="boxes.com")
    make_mailbox(db, domain)
    failed = make_mailbox(db, domain, status=MailboxStatus.FAILED)
    stranger = make_tenant(db)
    make_mailbox(db, make_domain(db, stranger.workspace_id, name="theirs.com"))
    everything = console.get("/console/mailboxes").text
    assert everything.count("@boxes.com") == 2
    assert "theirs.com" not in everything
    only_failed = console.get("/console/mailboxes?status=FAILED").text
    assert only_failed.count("@boxes.com") == 1
    with db.transaction() as session:
        address = session.get_one(Mailbox, failed).address
    assert address in only_failed
    assert console.get("/console/mailboxes?type=SMTP").text.count("@boxes.com") == 0


def test_the_queue_is_for_operators_only(console: TestClient) -> None:
    answer = console.get("/console/operator/orders")
    assert answer.status_code == 403
    assert "operator_required" in answer.text
    assert 'href="/console/operator/orders"' not in console.get("/console/").text


def test_an_operator_fulfils_a_manual_order_through_the_forms(
    off: TestClient, operator: Caller, db: Database
) -> None:
    owner, order = _order(db, off, ["ada", "bob"])
    token = sign_in(off, operator.email)
    queue = off.get("/console/operator/orders")
    assert queue.status_code == 200
    assert order["id"] in queue.text
    page = off.get(f"/console/operator/orders/{order['id']}")
    assert page.status_code == 200
    assert "Start this order" in page.text
    base = f"/console/operator/orders/{order['id']}"
    assert (
        off.post(f"{base}/start", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    assert _status(db, MailboxOrder, order["id"]) == OrderStatus.IN_PROGRESS
    ada, bob = order["mailboxes"]
    done = off.post(
        f"{base}/mailboxes/{ada['id']}/complete",
        data={
            "csrf_token": token,
            "password": "S3cret-pass",
            "smtp_host": "smtp.example.com",
            "smtp_port": "587",
            "imap_host": "imap.example.com",
            "imap_port": "993",
            "notes": "made by hand",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    with db.transaction() as session:
        box = session.get_one(Mailbox, uuid.UUID(ada["id"]))
        assert box.status == MailboxStatus.ACTIVE
        assert (
            SecretBox.from_settings(off.app.state.settings).decrypt(box.password_enc)
            == "S3cret-pass"
        )
        assert (box.smtp_host, box.smtp_port, box.imap_port) == ("smtp.example.com", 587, 993)
    failed = off.post(
        f"{base}/mailboxes/{bob['id']}/fail",
        data={"csrf_token": token, "reason": "provider refused"},
        follow_redirects=False,
    )
    assert failed.status_code == 303
    assert _status(db, Mailbox, bob["id"]) == MailboxStatus.FAILED
    assert _status(db, MailboxOrder, order["id"]) == OrderStatus.PARTIAL
    # The customer sees the outcome through the API as usual.
    listed = off.get(f"/v1/mailbox-orders/{order['id']}", headers=owner.headers).json()
    assert listed["status"] == "PARTIAL"
    notes = off.post(
        f"{base}/notes",
        data={"csrf_token": token, "operator_notes": "bob: quota"},
        follow_redirects=False,
    )
    assert notes.status_code == 303
    assert "bob: quota" in off.get(base).text


def test_a_bad_fulfilment_form_is_refused_and_changes_nothing(
    off: TestClient, operator: Caller, db: Database
) -> None:
    _, order = _order(db, off, ["cy"])
    token = sign_in(off, operator.email)
    box = order["mailboxes"][0]
    base = f"/console/operator/orders/{order['id']}"
    answer = off.post(
        f"{base}/mailboxes/{box['id']}/complete",
        data={
            "csrf_token": token,
            "password": "S3cret-pass",
            "smtp_host": "smtp.example.com",
            "smtp_port": "not-a-port",
            "imap_host": "imap.example.com",
            "imap_port": "993",
        },
    )
    assert answer.status_code == 422
    assert "smtp_port" in answer.text
    # What was typed is kept, never the password.
    assert 'value="smtp.example.com"' in answer.text
    assert "S3cret-pass" not in answer.text
    assert _status(db, Mailbox, box["id"]) == MailboxStatus.PENDING
    forged = off.post(f"{base}/mailboxes/{box['id']}/fail", data={"reason": "x"})
    assert forged.status_code == 403
    assert _status(db, Mailbox, box["id"]) == MailboxStatus.PENDING


def test_a_customer_cannot_post_the_operator_forms(off: TestClient, db: Database) -> None:
    owner, order = _order(db, off, ["dee"])
    set_password(db, owner.user_id)
    token = sign_in(off, owner.email)
    box = order["mailboxes"][0]
    answer = off.post(
        f"/console/operator/orders/{order['id']}/mailboxes/{box['id']}/fail",
        data={"csrf_token": token, "reason": "mine now"},
    )
    assert answer.status_code == 403
    assert _status(db, Mailbox, box["id"]) == MailboxStatus.PENDING
    assert off.get(f"/console/operator/orders/{order['id']}").status_code == 403


def test_an_unknown_order_is_404(console: TestClient, operator: Caller, make_client: Any) -> None:
    client = make_client()
    sign_in(client, operator.email)
    assert client.get("/console/operator/orders/not-an-id").status_code == 404
    assert client.get(f"/console/operator/orders/{uuid.uuid4()}").status_code == 404
    assert csrf_of(client.get("/console/operator/orders").text)
