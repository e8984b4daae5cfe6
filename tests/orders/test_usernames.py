"""Order rule 3: username syntax and uniqueness."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import (
    Mailbox,
    MailboxOrder,
    MailboxStatus,
)
from tests.factories import (
    count_rows,
    make_domain,
    order_body,
)
from tests.orders.helpers import ORDERS, assert_refused, tenant


@pytest.mark.parametrize(
    "username",
    [
        "john..smith",
        "john._smith",
        "john-_smith",
        ".john",
        "_john",
        "-john",
        "john.",
        "john_",
        "john-",
        "jo hn",
        "jöhn",
        "ｊohn",
        "john+tag",
        "john@acme.com",
        "",
        "   ",
        "a" * 65,
        "jo\nhn",
    ],
)
def test_invalid_username(db: Database, off: TestClient, username: str) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(domain, ["ok", username]), headers=owner.headers)
    assert_refused(db, response, 422, "invalid_username", "mailboxes[1].username")
    assert count_rows(db, Mailbox) == 0
    assert count_rows(db, MailboxOrder) == 0


@pytest.mark.parametrize(
    ("username", "stored"),
    [
        ("John.Smith", "john.smith"),
        ("a_b-c.d", "a_b-c.d"),
        ("a" * 64, "a" * 64),
        ("x", "x"),
        ("007", "007"),
    ],
)
def test_valid_username(db: Database, off: TestClient, username: str, stored: str) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(domain, [username]), headers=owner.headers)
    assert response.status_code == 201, response.text
    assert response.json()["mailboxes"][0]["username"] == stored


def test_duplicate_username_in_order(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    body = order_body(domain, ["john", "John", "jane"])
    response = off.post(ORDERS, json=body, headers=owner.headers)
    assert_refused(db, response, 422, "duplicate_username", "mailboxes[1].username")
    assert count_rows(db, Mailbox) == 0


def test_username_taken_on_domain(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    assert (
        off.post(ORDERS, json=order_body(domain, ["john"]), headers=owner.headers).status_code
        == 201
    )
    response = off.post(ORDERS, json=order_body(domain, ["jane", "JOHN"]), headers=owner.headers)
    assert_refused(db, response, 409, "username_taken", "mailboxes[1].username")
    assert count_rows(db, Mailbox) == 1


def test_username_of_failed_mailbox_is_free_again(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    first = off.post(ORDERS, json=order_body(domain, ["john"]), headers=owner.headers).json()
    with db.transaction() as session:
        session.get_one(
            Mailbox, uuid.UUID(first["mailboxes"][0]["id"])
        ).status = MailboxStatus.FAILED
    response = off.post(ORDERS, json=order_body(domain, ["john"]), headers=owner.headers)
    assert response.status_code == 201, response.text


def test_same_username_on_another_domain(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    for _ in range(2):
        domain = make_domain(db, owner.workspace_id)
        response = off.post(ORDERS, json=order_body(domain, ["john"]), headers=owner.headers)
        assert response.status_code == 201, response.text
