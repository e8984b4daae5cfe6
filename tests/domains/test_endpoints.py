from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.db import Database
from tests.factories import make_tenant


def test_submit_reports_each_item(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    names = [
        "  Example.COM. ",
        "bücher.com",
        "xn--caf-dma.com",
        "example.com",
        "not a domain",
        "sub.example.org",
        "co.uk",
        5,
    ]
    response = client.post("/v1/domains", json={"domains": names}, headers=owner.headers)
    assert response.status_code == 422, response.text  # 5 is not a string: whole request refused
    response = client.post("/v1/domains", json={"domains": names[:-1]}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [d["name"] for d in body["accepted"]] == [
        "example.com",
        "xn--bcher-kva.com",
        "xn--caf-dma.com",
    ]
    assert body["accepted"][1]["unicode_name"] == "bücher.com"
    assert {(r["index"], r["code"]) for r in body["rejected"]} == {
        (3, "duplicate_in_batch"),
        (4, "invalid_syntax"),
        (5, "not_registrable"),
        (6, "public_suffix"),
    }
    assert all(d["status"] == "QUEUED" and len(d["nameservers"]) == 2 for d in body["accepted"])


def test_name_held_by_another_workspace_is_refused(db: Database, client: TestClient) -> None:
    first, second = make_tenant(db), make_tenant(db)
    assert (
        client.post(
            "/v1/domains", json={"domains": ["taken.com"]}, headers=first.headers
        ).status_code
        == 201
    )
    response = client.post(
        "/v1/domains", json={"domains": ["taken.com", "free.com"]}, headers=second.headers
    )
    assert response.status_code == 201
    assert response.json()["rejected"] == [
        {
            "index": 0,
            "name": "taken.com",
            "code": "domain_taken",
            "detail": "Another workspace already holds this domain.",
        }
    ]
