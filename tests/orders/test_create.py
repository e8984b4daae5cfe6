"""POST /v1/mailbox-orders: the order itself, its domain, the payload and roles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import (
    Domain,
    DomainStatus,
    Event,
    Mailbox,
    MailboxOrder,
    MailboxType,
    Role,
)
from tests.factories import (
    count_rows,
    make_domain,
    make_member,
    order_body,
)
from tests.orders.helpers import ORDERS, assert_refused, tenant


def test_order_creates_pending_mailboxes(db: Database, client: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id, name="acme.com")
    body = order_body(" ACME.com. ", ["John.Smith", "jane"])
    response = client.post(ORDERS, json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "PENDING"
    assert order["domain"] == "acme.com"
    assert order["domain_id"] == str(domain.id)
    assert order["type"] == "GOOGLE"
    boxes = order["mailboxes"]
    assert [b["address"] for b in boxes] == ["john.smith@acme.com", "jane@acme.com"]
    assert all(b["status"] == "PENDING" and b["backend"] == "manual" for b in boxes)
    assert all(b["order_id"] == order["id"] for b in boxes)
    assert "password" not in boxes[0]
    assert "password_enc" not in boxes[0]
    expires = datetime.fromisoformat(boxes[0]["expires_at"])
    assert abs(expires - (clock.now() + timedelta(days=30))) < timedelta(minutes=1)
    with db.transaction() as session:
        assert session.get_one(Domain, domain.id).mailbox_type == MailboxType.GOOGLE
    assert count_rows(db, Event, type="mailbox.status_changed") == 2
    assert count_rows(db, Event, type="order.created") == 1


def test_domain_by_id(db: Database, client: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    response = client.post(ORDERS, json=order_body(str(domain.id), ["a"]), headers=owner.headers)
    assert response.status_code == 201, response.text


def test_unknown_domain_is_404(db: Database, client: TestClient) -> None:
    owner = tenant(db)
    response = client.post(ORDERS, json=order_body("nowhere.com", ["a"]), headers=owner.headers)
    assert_refused(db, response, 404, "domain_not_found", "domain")


def test_other_workspace_domain_is_404(db: Database, client: TestClient) -> None:
    owner, other = tenant(db), tenant(db)
    domain = make_domain(db, other.workspace_id)
    for ref in (domain.name, str(domain.id)):
        response = client.post(ORDERS, json=order_body(ref, ["a"]), headers=owner.headers)
        assert_refused(db, response, 404, "domain_not_found")
    assert count_rows(db, Mailbox) == 0


@pytest.mark.parametrize(
    "status", [DomainStatus.QUEUED, DomainStatus.PENDING_NS, DomainStatus.FAILED]
)
def test_domain_must_be_active(db: Database, client: TestClient, status: DomainStatus) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id, status=status)
    response = client.post(ORDERS, json=order_body(domain, ["a"]), headers=owner.headers)
    assert_refused(db, response, 409, "domain_not_active", "domain")
    assert count_rows(db, MailboxOrder) == 0


def test_empty_mailbox_list(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(domain, []), headers=owner.headers)
    assert_refused(db, response, 422, "validation_error", "mailboxes")


def test_too_many_mailboxes(db: Database, make_client: Callable[..., TestClient]) -> None:
    client = make_client(recent_creation_rule="off", max_mailboxes_per_order=2)
    owner = tenant(db, MailboxType.SMTP_DEDICATED)
    domain = make_domain(db, owner.workspace_id)
    body = order_body(domain, ["a", "b", "c"], "SMTP_DEDICATED")
    response = client.post(ORDERS, json=body, headers=owner.headers)
    assert_refused(db, response, 422, "too_many_mailboxes", "mailboxes")
    assert count_rows(db, Mailbox) == 0


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"first_name": "  ", "last_name": "L", "username": "a"}, "mailboxes[0].first_name"),
        ({"first_name": 5, "last_name": "L", "username": "a"}, "mailboxes[0].first_name"),
        ({"first_name": "F", "last_name": "x" * 101, "username": "a"}, "mailboxes[0].last_name"),
        ({"first_name": "F", "last_name": "L"}, "mailboxes[0].username"),
        ({"first_name": "F", "last_name": "L", "username": 7}, "mailboxes[0].username"),
        ({"first_name": "F", "last_name": "L", "username": "a", "x": 1}, "mailboxes[0].x"),
    ],
)
def test_mailbox_entry_shape(
    db: Database, off: TestClient, entry: dict[str, object], field: str
) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    body = {"domain": domain.name, "type": "GOOGLE", "mailboxes": [entry]}
    response = off.post(ORDERS, json=body, headers=owner.headers)
    assert_refused(db, response, 422, "validation_error", field)
    assert count_rows(db, Mailbox) == 0


def test_names_are_trimmed(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    body = {
        "domain": domain.name,
        "type": "GOOGLE",
        "mailboxes": [{"first_name": " Ann ", "last_name": " Lee ", "username": "ann"}],
    }
    box = off.post(ORDERS, json=body, headers=owner.headers).json()["mailboxes"][0]
    assert (box["first_name"], box["last_name"]) == ("Ann", "Lee")


def test_unknown_type_is_refused(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(domain, ["a"], "YAHOO"), headers=owner.headers)
    assert_refused(db, response, 422, "validation_error", "type")


def test_viewer_cannot_order(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    domain = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(domain, ["a"]), headers=viewer.headers)
    assert_refused(db, response, 403, "insufficient_role")
    assert count_rows(db, Mailbox) == 0


def test_editor_can_order(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    editor = make_member(db, owner, Role.EDITOR)
    domain = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(domain, ["a"]), headers=editor.headers)
    assert response.status_code == 201, response.text
