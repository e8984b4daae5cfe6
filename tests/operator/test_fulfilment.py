"""Operator routes: allocations, domain status, the order queue and manual fulfilment."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Domain, DomainStatus, Event, Mailbox, MailboxType
from tests.factories import (
    SMTP_ENDPOINTS,
    Caller,
    count_rows,
    give_slots,
    make_domain,
    make_tenant,
    order_body,
)


def place_order(
    db: Database, client: TestClient, usernames: list[str]
) -> tuple[Caller, dict[str, Any]]:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    domain = make_domain(db, owner.workspace_id)
    response = client.post(
        "/v1/mailbox-orders", json=order_body(domain, usernames), headers=owner.headers
    )
    assert response.status_code == 201, response.text
    return owner, response.json()


def complete(
    client: TestClient, operator: Caller, mailbox_id: str, **extra: object
) -> httpx.Response:
    body = {"password": "S3cret-pass", **SMTP_ENDPOINTS, **extra}
    return client.post(
        f"/v1/operator/mailboxes/{mailbox_id}/complete", json=body, headers=operator.headers
    )


def fail(client: TestClient, operator: Caller, mailbox_id: str) -> httpx.Response:
    return client.post(
        f"/v1/operator/mailboxes/{mailbox_id}/fail",
        json={"reason": "provider refused"},
        headers=operator.headers,
    )


def order_status(client: TestClient, owner: Caller, order_id: str) -> str:
    return str(client.get(f"/v1/mailbox-orders/{order_id}", headers=owner.headers).json()["status"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", f"/v1/operator/workspaces/{uuid.uuid4()}/allocations/GOOGLE"),
        ("POST", f"/v1/operator/domains/{uuid.uuid4()}/status"),
        ("GET", "/v1/operator/mailbox-orders"),
        ("POST", f"/v1/operator/mailbox-orders/{uuid.uuid4()}/start"),
        ("PATCH", f"/v1/operator/mailbox-orders/{uuid.uuid4()}"),
        ("POST", f"/v1/operator/mailboxes/{uuid.uuid4()}/complete"),
        ("POST", f"/v1/operator/mailboxes/{uuid.uuid4()}/fail"),
    ],
)
def test_non_operators_are_refused(
    db: Database, client: TestClient, method: str, path: str
) -> None:
    owner = make_tenant(db)
    response = client.request(method, path, headers=owner.headers, json={})
    assert response.status_code == 403
    assert response.json()["code"] == "operator_required"


def test_domain_status_active_and_failed(db: Database, client: TestClient) -> None:
    operator, customer = make_tenant(db, operator=True), make_tenant(db)
    domain = make_domain(db, customer.workspace_id, status=DomainStatus.PENDING_NS)
    path = f"/v1/operator/domains/{domain.id}/status"
    response = client.post(path, json={"status": "FAILED"}, headers=operator.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "reason_required"
    response = client.post(
        path, json={"status": "FAILED", "reason": "NS not delegated"}, headers=operator.headers
    )
    assert response.json()["status"] == "FAILED"
    assert response.json()["failure_reason"] == "NS not delegated"
    response = client.post(path, json={"status": "ACTIVE"}, headers=operator.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "ACTIVE"
    assert response.json()["activated_at"]
    assert (
        client.post(path, json={"status": "REMOVED"}, headers=operator.headers).status_code == 422
    )
    assert count_rows(db, Event, type="domain.status_changed") == 2
    with db.transaction() as session:
        assert session.get_one(Domain, domain.id).failure_reason is None


def test_queue_and_start(db: Database, off: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    _, first = place_order(db, off, ["a", "b"])
    _, second = place_order(db, off, ["c"])
    queue = off.get("/v1/operator/mailbox-orders", headers=operator.headers).json()
    assert [o["id"] for o in queue["items"]] == [first["id"], second["id"]]  # oldest first
    page = off.get("/v1/operator/mailbox-orders?limit=1", headers=operator.headers).json()
    assert [o["id"] for o in page["items"]] == [first["id"]]
    rest = off.get(
        f"/v1/operator/mailbox-orders?limit=1&cursor={page['next_cursor']}",
        headers=operator.headers,
    )
    assert [o["id"] for o in rest.json()["items"]] == [second["id"]]
    started = off.post(f"/v1/operator/mailbox-orders/{first['id']}/start", headers=operator.headers)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "IN_PROGRESS"
    assert {m["status"] for m in started.json()["mailboxes"]} == {"PROVISIONING"}
    again = off.post(f"/v1/operator/mailbox-orders/{first['id']}/start", headers=operator.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "order_not_pending"
    pending = off.get("/v1/operator/mailbox-orders?status=PENDING", headers=operator.headers).json()
    assert [o["id"] for o in pending["items"]] == [second["id"]]


def test_operator_notes(db: Database, off: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    owner, order = place_order(db, off, ["a"])
    path = f"/v1/operator/mailbox-orders/{order['id']}"
    response = off.patch(
        path, json={"operator_notes": "waiting on tenant admin"}, headers=operator.headers
    )
    assert response.json()["operator_notes"] == "waiting on tenant admin"
    shown = off.get(f"/v1/mailbox-orders/{order['id']}", headers=owner.headers).json()
    assert shown["operator_notes"] == "waiting on tenant admin"


def test_all_completed_is_completed(db: Database, off: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    owner, order = place_order(db, off, ["a", "b"])
    off.post(f"/v1/operator/mailbox-orders/{order['id']}/start", headers=operator.headers)
    first = complete(off, operator, order["mailboxes"][0]["id"])
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "ACTIVE"
    assert first.json()["activated_at"]
    assert order_status(off, owner, order["id"]) == "IN_PROGRESS"
    complete(off, operator, order["mailboxes"][1]["id"])
    shown = off.get(f"/v1/mailbox-orders/{order['id']}", headers=owner.headers).json()
    assert shown["status"] == "COMPLETED"
    assert shown["completed_at"]
    assert count_rows(db, Event, type="order.status_changed") == 2


def test_all_failed_is_failed(db: Database, off: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    owner, order = place_order(db, off, ["a", "b"])
    for box in order["mailboxes"]:
        response = fail(off, operator, box["id"])
        assert response.json()["status"] == "FAILED"
        assert response.json()["failure_reason"] == "provider refused"
    assert order_status(off, owner, order["id"]) == "FAILED"


def test_mixed_is_partial(db: Database, off: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    owner, order = place_order(db, off, ["a", "b", "c"])
    complete(off, operator, order["mailboxes"][0]["id"])
    fail(off, operator, order["mailboxes"][1]["id"])
    assert order_status(off, owner, order["id"]) == "IN_PROGRESS"
    complete(off, operator, order["mailboxes"][2]["id"])
    assert order_status(off, owner, order["id"]) == "PARTIAL"


def test_finished_mailbox_cannot_be_fulfilled_again(db: Database, off: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    _, order = place_order(db, off, ["a"])
    box = order["mailboxes"][0]["id"]
    complete(off, operator, box)
    for response in (complete(off, operator, box), fail(off, operator, box)):
        assert response.status_code == 409
        assert response.json()["code"] == "mailbox_not_provisioning"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"totp_secret": "not base32!"}, "totp_secret"),
        ({"password": ""}, "password"),
        ({"smtp_port": 0}, "smtp_port"),
        ({"imap_host": ""}, "imap_host"),
    ],
)
def test_complete_validates(
    db: Database, off: TestClient, extra: dict[str, object], field: str
) -> None:
    operator = make_tenant(db, operator=True)
    _, order = place_order(db, off, ["a"])
    response = complete(off, operator, order["mailboxes"][0]["id"], **extra)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert count_rows(db, Mailbox, status="ACTIVE") == 0


def test_unknown_mailbox_and_order(db: Database, client: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    response = complete(client, operator, str(uuid.uuid4()))
    assert response.status_code == 404
    response = client.post(
        f"/v1/operator/mailbox-orders/{uuid.uuid4()}/start", headers=operator.headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "mailbox_order_not_found"
