"""Mailbox endpoints: listing, reading, credentials, editing and both kinds of removal."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.mailboxes.service import apply_due_removals
from mailfleet.models import Event, Mailbox, MailboxOrder, MailboxStatus, MailboxType, Role
from tests.factories import (
    SMTP_ENDPOINTS,
    Caller,
    count_rows,
    give_slots,
    make_domain,
    make_member,
    make_tenant,
    order_body,
)


def setup_boxes(
    db: Database, client: TestClient, usernames: list[str], mailbox_type: str = "GOOGLE"
) -> tuple[Caller, dict[str, Any]]:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType(mailbox_type), 20)
    domain = make_domain(db, owner.workspace_id)
    body = order_body(domain, usernames, mailbox_type)
    response = client.post("/v1/mailbox-orders", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return owner, response.json()


def activate(db: Database, client: TestClient, mailbox_id: str, **extra: object) -> None:
    operator = make_tenant(db, operator=True)
    body = {"password": "Pa55-word!", **SMTP_ENDPOINTS, **extra}
    response = client.post(
        f"/v1/operator/mailboxes/{mailbox_id}/complete", json=body, headers=operator.headers
    )
    assert response.status_code == 200, response.text


def test_list_filters_and_pages(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice", "bob", "carol"])
    other_domain = make_domain(db, owner.workspace_id)
    off.post("/v1/mailbox-orders", json=order_body(other_domain, ["dave"]), headers=owner.headers)
    setup_boxes(db, off, ["stranger"])  # another workspace's mailbox never shows
    listed = off.get("/v1/mailboxes", headers=owner.headers).json()
    assert [m["username"] for m in listed["items"]] == ["dave", "carol", "bob", "alice"]
    assert listed["next_cursor"] is None
    page = off.get("/v1/mailboxes?limit=3", headers=owner.headers).json()
    assert len(page["items"]) == 3
    rest = off.get(f"/v1/mailboxes?limit=3&cursor={page['next_cursor']}", headers=owner.headers)
    assert [m["username"] for m in rest.json()["items"]] == ["alice"]
    by_domain = off.get(f"/v1/mailboxes?domain_id={other_domain.id}", headers=owner.headers)
    assert [m["username"] for m in by_domain.json()["items"]] == ["dave"]
    by_text = off.get("/v1/mailboxes?q=CAR", headers=owner.headers).json()
    assert [m["username"] for m in by_text["items"]] == ["carol"]
    assert off.get("/v1/mailboxes?q=%25", headers=owner.headers).json()["items"] == []
    activate(db, off, order["mailboxes"][0]["id"])
    active = off.get("/v1/mailboxes?status=ACTIVE", headers=owner.headers).json()
    assert [m["username"] for m in active["items"]] == ["alice"]
    smtp = off.get("/v1/mailboxes?type=SMTP", headers=owner.headers).json()
    assert smtp["items"] == []


def test_get_never_shows_secrets(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice"])
    box_id = order["mailboxes"][0]["id"]
    activate(db, off, box_id)
    body = off.get(f"/v1/mailboxes/{box_id}", headers=owner.headers).json()
    assert body["status"] == "ACTIVE"
    assert not {k for k in body if "pass" in k or "totp" in k}
    assert "Pa55-word!" not in str(body)


def test_other_workspace_mailbox_is_404(db: Database, off: TestClient) -> None:
    _, order = setup_boxes(db, off, ["alice"])
    stranger = make_tenant(db)
    box_id = order["mailboxes"][0]["id"]
    for path in (f"/v1/mailboxes/{box_id}", f"/v1/mailboxes/{box_id}/credentials"):
        response = off.get(path, headers=stranger.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "mailbox_not_found"
    assert off.delete(f"/v1/mailboxes/{box_id}", headers=stranger.headers).status_code == 404


def test_credentials_round_trip(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice"])
    box_id = order["mailboxes"][0]["id"]
    activate(db, off, box_id, app_password="abcd efgh", totp_secret="jbsw y3dp ehpk 3pxp")
    creds = off.get(f"/v1/mailboxes/{box_id}/credentials", headers=owner.headers).json()
    assert creds["password"] == "Pa55-word!"
    assert creds["app_password"] == "abcd efgh"
    assert creds["totp_secret"] == "JBSWY3DPEHPK3PXP"
    assert (creds["smtp_host"], creds["smtp_port"]) == ("smtp.example.net", 587)
    assert (creds["imap_host"], creds["imap_port"]) == ("imap.example.net", 993)
    with db.transaction() as session:
        row = session.get_one(Mailbox, uuid.UUID(box_id))
        stored = f"{row.password_enc} {row.app_password_enc} {row.totp_secret_enc}"
    assert "Pa55-word!" not in stored
    assert "abcd efgh" not in stored
    assert "JBSWY3DPEHPK3PXP" not in stored


def test_credentials_need_an_active_mailbox(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice"])
    response = off.get(
        f"/v1/mailboxes/{order['mailboxes'][0]['id']}/credentials", headers=owner.headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "mailbox_not_active"


def test_viewer_cannot_read_credentials(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice"])
    box_id = order["mailboxes"][0]["id"]
    activate(db, off, box_id)
    viewer = make_member(db, owner, Role.VIEWER)
    response = off.get(f"/v1/mailboxes/{box_id}/credentials", headers=viewer.headers)
    assert response.status_code == 403
    assert off.get(f"/v1/mailboxes/{box_id}", headers=viewer.headers).status_code == 200


def test_update_names_and_username(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice", "bob"])
    alice, bob = (m["id"] for m in order["mailboxes"])
    response = off.patch(
        f"/v1/mailboxes/{alice}",
        json={"first_name": " Alicia ", "username": "Alicia.K"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["first_name"], body["last_name"]) == ("Alicia", "Last")
    assert body["username"] == "alicia.k"
    assert body["address"].startswith("alicia.k@")
    same = off.patch(f"/v1/mailboxes/{alice}", json={"username": "alicia.k"}, headers=owner.headers)
    assert same.status_code == 200  # its own username is not "taken"
    taken = off.patch(f"/v1/mailboxes/{alice}", json={"username": "BOB"}, headers=owner.headers)
    assert taken.status_code == 409
    assert taken.json()["code"] == "username_taken"
    assert taken.json()["field"] == "username"
    bad = off.patch(f"/v1/mailboxes/{bob}", json={"username": "bo..b"}, headers=owner.headers)
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_username"
    assert bad.json()["field"] == "username"
    blank = off.patch(f"/v1/mailboxes/{bob}", json={"last_name": "  "}, headers=owner.headers)
    assert blank.status_code == 422
    assert count_rows(db, Event, type="mailbox.updated") == 1


def test_viewer_cannot_update(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice"])
    viewer = make_member(db, owner, Role.VIEWER)
    path = f"/v1/mailboxes/{order['mailboxes'][0]['id']}"
    response = off.patch(path, json={"first_name": "X"}, headers=viewer.headers)
    assert response.status_code == 403
    assert off.delete(path, headers=viewer.headers).status_code == 403


def test_remove_now(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice"])
    box_id = order["mailboxes"][0]["id"]
    activate(db, off, box_id)
    response = off.delete(f"/v1/mailboxes/{box_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "REMOVED"
    assert response.json()["removed_at"]
    again = off.delete(f"/v1/mailboxes/{box_id}", headers=owner.headers)
    assert again.json()["status"] == "REMOVED"
    assert count_rows(db, Event, type="mailbox.deprovision_requested") == 1
    shown = off.get(f"/v1/mailbox-orders/{order['id']}", headers=owner.headers).json()
    assert shown["status"] == "COMPLETED"  # removal says nothing about fulfilment


def test_removed_username_can_be_ordered_again(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice"])
    off.delete(f"/v1/mailboxes/{order['mailboxes'][0]['id']}", headers=owner.headers)
    body = order_body(order["domain"], ["alice"])
    assert off.post("/v1/mailbox-orders", json=body, headers=owner.headers).status_code == 201


def test_failed_mailbox_cannot_be_removed(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice"])
    box_id = order["mailboxes"][0]["id"]
    operator = make_tenant(db, operator=True)
    off.post(
        f"/v1/operator/mailboxes/{box_id}/fail", json={"reason": "no"}, headers=operator.headers
    )
    response = off.delete(f"/v1/mailboxes/{box_id}", headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "mailbox_failed"


def test_schedule_and_cancel_removal(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice"])
    box_id = order["mailboxes"][0]["id"]
    path = f"/v1/mailboxes/{box_id}/scheduled-removal"
    pending = off.post(path, headers=owner.headers)
    assert pending.status_code == 409
    assert pending.json()["code"] == "mailbox_not_active"
    activate(db, off, box_id)
    scheduled = off.post(path, headers=owner.headers).json()
    assert scheduled["status"] == "REMOVAL_SCHEDULED"
    assert scheduled["remove_at_renewal"] is True
    cancelled = off.delete(path, headers=owner.headers).json()
    assert cancelled["status"] == "ACTIVE"
    assert cancelled["remove_at_renewal"] is False
    twice = off.delete(path, headers=owner.headers)
    assert twice.status_code == 409
    assert twice.json()["code"] == "removal_not_scheduled"


def test_apply_due_removals(db: Database, off: TestClient) -> None:
    owner, order = setup_boxes(db, off, ["alice", "bob"])
    alice, bob = (m["id"] for m in order["mailboxes"])
    for box_id in (alice, bob):
        activate(db, off, box_id)
    off.post(f"/v1/mailboxes/{alice}/scheduled-removal", headers=owner.headers)
    with db.transaction() as session:
        assert apply_due_removals(session, clock.now()) == 0
    with db.transaction() as session:
        later = clock.now() + timedelta(days=31)
        assert apply_due_removals(session, later) == 1
    with db.transaction() as session:
        assert session.get_one(Mailbox, uuid.UUID(alice)).status == MailboxStatus.REMOVED
        assert session.get_one(Mailbox, uuid.UUID(alice)).removed_at == later
        assert session.get_one(Mailbox, uuid.UUID(bob)).status == MailboxStatus.ACTIVE
        assert apply_due_removals(session, later) == 0
    assert count_rows(db, Event, type="mailbox.deprovision_requested") == 1


def test_list_and_get_orders(db: Database, off: TestClient) -> None:
    owner, first = setup_boxes(db, off, ["alice", "bob"])
    other = make_domain(db, owner.workspace_id)
    second = off.post(
        "/v1/mailbox-orders", json=order_body(other, ["carol"]), headers=owner.headers
    ).json()
    listed = off.get("/v1/mailbox-orders", headers=owner.headers).json()
    assert [o["id"] for o in listed["items"]] == [second["id"], first["id"]]
    assert [m["username"] for m in listed["items"][1]["mailboxes"]] == ["alice", "bob"]
    page = off.get("/v1/mailbox-orders?limit=1", headers=owner.headers).json()
    rest = off.get(f"/v1/mailbox-orders?cursor={page['next_cursor']}", headers=owner.headers)
    assert [o["id"] for o in rest.json()["items"]] == [first["id"]]
    by_domain = off.get(f"/v1/mailbox-orders?domain_id={other.id}", headers=owner.headers)
    assert [o["id"] for o in by_domain.json()["items"]] == [second["id"]]
    assert off.get("/v1/mailbox-orders?status=COMPLETED", headers=owner.headers).json() == {
        "items": [],
        "next_cursor": None,
    }
    shown = off.get(f"/v1/mailbox-orders/{first['id']}", headers=owner.headers).json()
    assert shown == first
    stranger = make_tenant(db)
    hidden = off.get(f"/v1/mailbox-orders/{first['id']}", headers=stranger.headers)
    assert hidden.status_code == 404
    assert count_rows(db, MailboxOrder) == 2
