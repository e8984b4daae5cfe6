"""The InboxedUp document's examples replayed against /inboxedup, field by field."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxType
from tests.factories import give_slots, make_domain, make_tenant

API = "/inboxedup"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# The document's request example, exactly as written.
REQUEST_EXAMPLE = {
    "domain": "yourdomain.com",
    "type": "microsoft",
    "mailboxes": [
        {"firstName": "John", "lastName": "Smith", "mailboxUsername": "john.smith"},
        {"firstName": "Jane", "lastName": "Doe", "mailboxUsername": "jane.doe"},
    ],
}


def test_request_mailboxes_example_answers_the_documented_body(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    make_domain(db, owner.workspace_id, name="yourdomain.com", status=DomainStatus.ACTIVE)
    give_slots(db, owner.workspace_id, MailboxType.MICROSOFT, 10)

    response = client.post(
        f"{API}/mailboxes",
        json=REQUEST_EXAMPLE,
        headers={"Authorization": f"Bearer {owner.token}", "Content-Type": "application/json"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert list(body) == [
        "success",
        "requestId",
        "type",
        "domain",
        "status",
        "message",
        "mailboxes",
    ]
    assert body["success"] is True
    assert re.fullmatch(r"req_[0-9a-f]{32}", body["requestId"])
    assert body["type"] == "microsoft"
    assert body["domain"] == "yourdomain.com"
    assert body["status"] == "pending"
    assert body["message"] == "Your mailbox request has been received and is being processed."
    assert body["mailboxes"] == [
        {
            "firstName": "John",
            "lastName": "Smith",
            "mailboxUsername": "john.smith",
            "domainName": "yourdomain.com",
        },
        {
            "firstName": "Jane",
            "lastName": "Doe",
            "mailboxUsername": "jane.doe",
            "domainName": "yourdomain.com",
        },
    ]


def test_get_mailbox_request_has_the_documented_fields(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, name="yourdomain.com")
    give_slots(db, owner.workspace_id, MailboxType.MICROSOFT, 10)
    created = client.post(f"{API}/mailboxes", json=REQUEST_EXAMPLE, headers=owner.headers).json()

    response = client.get(f"{API}/mailboxes/{created['requestId']}", headers=owner.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {
        "id",
        "type",
        "domain",
        "domainId",
        "domainStatus",
        "ns1",
        "ns2",
        "status",
        "adminNotes",
        "createdAt",
        "mailboxes",
    }
    assert data["id"] == created["requestId"]
    assert data["type"] == "MICROSOFT"
    assert data["domain"] == "yourdomain.com"
    assert data["domainId"] == f"dom_{domain.id.hex}"
    assert data["domainStatus"] == "ACTIVE"
    assert (data["ns1"], data["ns2"]) == ("ns1.mailfleet.local", "ns2.mailfleet.local")
    assert data["status"] == "PENDING"
    assert data["adminNotes"] is None
    assert ISO_MS.match(data["createdAt"])
    assert [m["mailboxUsername"] for m in data["mailboxes"]] == ["john.smith", "jane.doe"]
    assert {k for m in data["mailboxes"] for k in m} == {
        "firstName",
        "lastName",
        "mailboxUsername",
        "domainName",
        "status",
    }


def test_account_overview_has_the_documented_fields(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    make_domain(db, owner.workspace_id, status=DomainStatus.ACTIVE)
    make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 7)

    response = client.get(f"{API}/account", headers={"Authorization": f"Bearer {owner.token}"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"customer", "allocations", "summary"}
    customer = data["customer"]
    assert set(customer) == {"id", "email", "name", "createdAt"}
    assert customer["id"] == str(owner.user_id)
    assert customer["email"] == owner.email
    assert ISO_MS.match(customer["createdAt"])
    assert [a["type"] for a in data["allocations"]] == [
        "GOOGLE",
        "MICROSOFT",
        "SMTP",
        "SMTP_DEDICATED",
    ]
    google = data["allocations"][0]
    assert google == {"type": "GOOGLE", "allocated": 7, "used": 0, "remaining": 7}
    assert data["summary"] == {
        "totalDomains": 2,
        "activeDomains": 1,
        "pendingMailboxRequests": 0,
        "activeApiKeys": 1,
    }


def test_batch_status_has_the_documented_fields(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    submitted = client.post(
        f"{API}/domains",
        json={"domains": ["alpha-batch.com", "beta-batch.com"]},
        headers=owner.headers,
    )
    assert submitted.status_code == 201, submitted.text
    batch_id = submitted.json()["data"]["batchId"]
    assert re.fullmatch(r"batch_[0-9a-f]{32}", batch_id)

    response = client.get(f"{API}/domains/batch/{batch_id}", headers=owner.headers)

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert list(data) == [
        "batchId",
        "status",
        "total",
        "queued",
        "pending_ns",
        "active",
        "failed",
        "groups",
    ]
    assert data["batchId"] == batch_id
    assert data["total"] == 2
    assert data["queued"] + data["pending_ns"] == 2
    assert data["status"] == "PENDING"
    names = [d["domain"] for g in data["groups"] for d in g["domains"]]
    assert sorted(names) == ["alpha-batch.com", "beta-batch.com"]
    for group in data["groups"]:
        assert set(group) == {"ns1", "ns2", "domains"}
        for domain in group["domains"]:
            assert set(domain) == {"id", "domain", "status", "createdAt"}
            assert uuid.UUID(domain["id"].removeprefix("dom_"))
            assert ISO_MS.match(domain["createdAt"])
