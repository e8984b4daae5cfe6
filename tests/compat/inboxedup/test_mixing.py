"""One object, two APIs: what InboxedUp creates the native API sees, and the other way round;
requests fulfilled by an operator or by a backend read the same through InboxedUp."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxType
from tests.factories import give_slots, make_domain, make_tenant

API = "/inboxedup"


def test_a_domain_submitted_here_is_the_native_domain(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    submitted = client.post(
        f"{API}/domains",
        json={"domains": ["mixed-one.com", "bad name", "mixed-one.com"]},
        headers=owner.headers,
    )
    assert submitted.status_code == 201, submitted.text
    data = submitted.json()["data"]
    assert (data["total"], data["accepted"], data["rejected"]) == (3, 1, 2)
    first, bad, again = data["results"]
    assert first["success"] is True
    assert first["status"] == "QUEUED"
    assert bad["success"] is False
    assert bad["error"]["field"] == "domains[1]"
    assert again["error"]["code"] == "duplicate_in_batch"

    native_id = uuid.UUID(first["id"].removeprefix("dom_"))
    native = client.get(f"/v1/domains/{native_id}", headers=owner.headers)
    assert native.status_code == 200
    assert native.json()["name"] == "mixed-one.com"
    assert native.json()["batch_id"] == str(uuid.UUID(data["batchId"].removeprefix("batch_")))
    # Both id forms name it here too.
    for ref in (first["id"], str(native_id)):
        got = client.get(f"{API}/domains/{ref}", headers=owner.headers)
        assert got.status_code == 200, got.text
        assert got.json()["data"]["id"] == first["id"]


def test_a_native_order_is_an_inboxedup_request(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 5)
    order = client.post(
        "/v1/mailbox-orders",
        json={
            "domain": domain.name,
            "type": "SMTP",
            "mailboxes": [{"first_name": "Ann", "last_name": "Lee", "username": "ann"}],
        },
        headers=owner.headers,
    ).json()

    listed = client.get(f"{API}/mailboxes", headers=owner.headers).json()
    assert [r["id"] for r in listed["data"]] == [f"req_{uuid.UUID(order['id']).hex}"]
    assert listed["pagination"] == {"limit": 50, "nextCursor": None, "hasMore": False}
    request = listed["data"][0]
    assert request["mailboxes"][0]["mailboxUsername"] == "ann"
    assert request["domainId"] == f"dom_{domain.id.hex}"


def test_manual_fulfilment_shows_with_admin_notes(db: Database, client: TestClient) -> None:
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 5)
    created = client.post(
        f"{API}/mailboxes",
        json={
            "domain": domain.name,
            "type": "google",
            "mailboxes": [{"firstName": "Ann", "lastName": "Lee", "mailboxUsername": "ann"}],
        },
        headers=owner.headers,
    ).json()
    order_id = uuid.UUID(created["requestId"].removeprefix("req_"))

    # The operator takes it, completes the mailbox and writes a note (the native operator API).
    assert (
        client.post(
            f"/v1/operator/mailbox-orders/{order_id}/start", headers=owner.headers
        ).status_code
        == 200
    )
    order = client.get(f"/v1/mailbox-orders/{order_id}", headers=owner.headers).json()
    mailbox_id = order["mailboxes"][0]["id"]
    in_progress = client.get(
        f"{API}/mailboxes/{created['requestId']}", headers=owner.headers
    ).json()
    assert in_progress["data"]["status"] == "IN_PROGRESS"
    done = client.post(
        f"/v1/operator/mailboxes/{mailbox_id}/complete",
        json={
            "password": "S3cret-Pass!x",
            "smtp_host": "smtp.gmail.com",
            "smtp_port": 587,
            "imap_host": "imap.gmail.com",
            "imap_port": 993,
        },
        headers=owner.headers,
    )
    assert done.status_code == 200, done.text
    noted = client.patch(
        f"/v1/operator/mailbox-orders/{order_id}",
        json={"operator_notes": "Created in the Google admin console."},
        headers=owner.headers,
    )
    assert noted.status_code == 200, noted.text

    response = client.get(f"{API}/mailboxes/{created['requestId']}", headers=owner.headers)
    data = response.json()["data"]
    assert data["status"] == "COMPLETED"
    assert data["adminNotes"] == "Created in the Google admin console."
    assert data["mailboxes"][0]["status"] == "ACTIVE"
    assert "credentials" not in data["mailboxes"][0]
    assert "S3cret" not in response.text

    with_logins = client.get(
        f"{API}/mailboxes/{created['requestId']}?include=credentials", headers=owner.headers
    )
    assert with_logins.status_code == 200, with_logins.text
    assert with_logins.headers["cache-control"] == "no-store"
    login = with_logins.json()["data"]["mailboxes"][0]["credentials"]
    assert login["email"] == f"ann@{domain.name}"
    assert login["password"] == "S3cret-Pass!x"
    assert login["imapHost"] == "imap.gmail.com"


def test_batch_status_follows_its_domains(db: Database, client: TestClient) -> None:
    owner = make_tenant(db, operator=True)
    data = client.post(
        f"{API}/domains", json={"domains": ["b-one.com", "b-two.com"]}, headers=owner.headers
    ).json()["data"]
    one, two = (uuid.UUID(r["id"].removeprefix("dom_")) for r in data["results"])
    batch = f"{API}/domains/batch/{data['batchId']}"

    def status() -> tuple[str, int, int, int]:
        got = client.get(batch, headers=owner.headers).json()["data"]
        return got["status"], got["active"], got["failed"], got["queued"] + got["pending_ns"]

    assert status() == ("PENDING", 0, 0, 2)
    move = f"/v1/operator/domains/{one}/status"
    assert client.post(move, json={"status": "ACTIVE"}, headers=owner.headers).status_code == 200
    assert status() == ("PARTIAL", 1, 0, 1)
    fail = client.post(
        f"/v1/operator/domains/{two}/status",
        json={"status": "FAILED", "reason": "x"},
        headers=owner.headers,
    )
    assert fail.status_code == 200, fail.text
    assert status() == ("PARTIAL", 1, 1, 0)


def test_subscription_notes_through_both_apis(db: Database, client: TestClient) -> None:
    from tests.factories import fund_wallet, seed_plans

    owner = make_tenant(db)
    seed_plans(db)
    fund_wallet(db, owner.workspace_id, 100_000)
    bought = client.post(
        "/v1/subscriptions", json={"lookup_key": "google_starter_monthly"}, headers=owner.headers
    )
    assert bought.status_code == 201, bought.text
    public_id = bought.json()["public_id"]

    listed = client.get(f"{API}/subscriptions", headers=owner.headers).json()["data"]
    assert [s["id"] for s in listed] == [public_id]
    assert listed[0]["slots"] == 10
    assert listed[0]["notes"] is None
    noted = client.patch(
        f"{API}/subscriptions/{public_id}", json={"notes": "Client: Acme"}, headers=owner.headers
    )
    assert noted.status_code == 200, noted.text
    assert noted.json()["data"]["notes"] == "Client: Acme"
    native = client.get(f"/v1/subscriptions/{public_id}", headers=owner.headers).json()
    assert native["notes"] == "Client: Acme"
    account = client.get(f"{API}/account", headers=owner.headers).json()["data"]
    google = next(a for a in account["allocations"] if a["type"] == "GOOGLE")
    assert google["allocated"] == 10


def test_remove_and_verify(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, status=DomainStatus.ACTIVE)
    ref = f"dom_{domain.id.hex}"
    verified = client.post(f"{API}/domains/{ref}/verify", headers=owner.headers)
    assert verified.status_code == 200, verified.text
    assert verified.json()["data"]["status"] == "ACTIVE"
    removed = client.delete(f"{API}/domains/{ref}", headers=owner.headers)
    assert removed.status_code == 200, removed.text
    assert removed.json()["data"]["status"] == "REMOVED"
    assert (
        client.get(f"/v1/domains/{domain.id}", headers=owner.headers).json()["status"] == "REMOVED"
    )
    listed = client.get(f"{API}/domains", headers=owner.headers).json()["data"]
    assert ref not in [d["id"] for d in listed]
