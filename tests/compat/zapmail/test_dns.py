"""Zapmail's DNS record endpoints: the documented example replayed, the records the native API
sees, all-or-none changes, Mailfleet's managed records protected."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from mailfleet.db import Database
from tests.factories import make_dns_record, make_domain, make_tenant

API = "/zapmail/api"


def _example(domain_id: Any) -> dict[str, Any]:
    return {
        "assignedDomainId": str(domain_id),
        "records": [
            {"host": "@", "value": "203.0.113.1", "recordType": "A"},
            {"host": "blog", "value": "example.com", "recordType": "CNAME"},
            {
                "host": "_dmarc",
                "value": "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com",
                "recordType": "TXT",
            },
            {"host": "@", "value": "2001:db8::1", "recordType": "AAAA"},
        ],
    }


def test_the_documented_add_example(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, name="dummy.com")

    response = client.post(f"{API}/v2/dns", json=_example(domain.id), headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["message"]) == (200, "Dns records added successfully")
    first = body["data"][0]
    assert list(first)[:9] == [
        "id",
        "value",
        "host",
        "recordType",
        "assignedDomainId",
        "cdfRecordId",
        "cdfResponse",
        "priority",
        "createdAt",
    ]
    assert (first["value"], first["host"], first["recordType"]) == ("203.0.113.1", "dummy.com", "A")
    assert first["assignedDomainId"] == str(domain.id)
    assert first["cdfResponse"] == {
        "id": first["cdfRecordId"],
        "name": "dummy.com",
        "type": "A",
        "content": "203.0.113.1",
    }
    hosts = [(r["host"], r["recordType"]) for r in body["data"]]
    assert hosts == [
        ("dummy.com", "A"),
        ("blog.dummy.com", "CNAME"),
        ("_dmarc.dummy.com", "TXT"),
        ("dummy.com", "AAAA"),
    ]
    listed = client.get(f"{API}/v2/dns/?id={domain.id}", headers=owner.zapmail_headers)
    assert listed.status_code == 200, listed.text
    assert {r["id"] for r in listed.json()["data"]} == {r["id"] for r in body["data"]}
    native = client.get(f"/v1/domains/{domain.id}/dns/records", headers=owner.headers).json()
    assert {r["id"] for r in native["items"]} == {r["id"] for r in body["data"]}


def test_mx_priority_from_the_field_or_the_value(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    body = {
        "assignedDomainId": str(domain.id),
        "records": [
            {"host": "in", "value": "10 mx1.example.net", "recordType": "MX"},
            {"host": "in", "value": "mx2.example.net", "recordType": "MX", "priority": 20},
        ],
    }

    response = client.post(f"{API}/v2/dns", json=body, headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    assert [(r["value"], r["priority"]) for r in response.json()["data"]] == [
        ("mx1.example.net", 10),
        ("mx2.example.net", 20),
    ]


def test_one_bad_record_adds_none(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    body = _example(domain.id)
    body["records"].append({"host": "bad", "value": "not-an-ip", "recordType": "A"})

    refused = client.post(f"{API}/v2/dns", json=body, headers=owner.zapmail_headers)

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "invalid_record_content"
    listed = client.get(f"{API}/v2/dns?id={domain.id}", headers=owner.zapmail_headers)
    assert listed.json()["data"] == []


def test_update_and_delete_by_id(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    added = client.post(
        f"{API}/v2/dns", json=_example(domain.id), headers=owner.zapmail_headers
    ).json()["data"]
    a_record = added[0]

    changed = client.put(
        f"{API}/v2/dns",
        json={
            "assignedDomainId": str(domain.id),
            "records": [
                {"id": a_record["id"], "host": "@", "value": "198.51.100.7", "recordType": "A"}
            ],
        },
        headers=owner.zapmail_headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"][0]["value"] == "198.51.100.7"

    deleted = client.request(
        "DELETE",
        f"{API}/v2/dns",
        json={"assignedDomainId": str(domain.id), "ids": [r["id"] for r in added[1:]]},
        headers=owner.zapmail_headers,
    )
    assert deleted.status_code == 200, deleted.text
    left = client.get(f"{API}/v2/dns?id={domain.id}", headers=owner.zapmail_headers).json()
    assert [(r["value"], r["recordType"]) for r in left["data"]] == [("198.51.100.7", "A")]


def test_managed_records_cannot_be_deleted(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    managed = make_dns_record(db, domain, managed=True)

    refused = client.request(
        "DELETE",
        f"{API}/v2/dns",
        json={"assignedDomainId": str(domain.id), "ids": [str(managed)]},
        headers=owner.zapmail_headers,
    )

    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "managed_record"


def test_another_workspaces_domain_is_404(db: Database, client: TestClient) -> None:
    owner, stranger = make_tenant(db), make_tenant(db)
    domain = make_domain(db, owner.workspace_id)

    read = client.get(f"{API}/v2/dns?id={domain.id}", headers=stranger.zapmail_headers)
    write = client.post(f"{API}/v2/dns", json=_example(domain.id), headers=stranger.zapmail_headers)

    assert read.status_code == write.status_code == 404
    assert (
        client.get(f"{API}/v2/dns?id={domain.id}", headers=owner.zapmail_headers).json()["data"]
        == []
    )
