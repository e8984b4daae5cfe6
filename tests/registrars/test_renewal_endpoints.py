"""GET /v1/domain-renewals and /v1/domain-renewals/{id}: the workspace's renewals, newest first,
filtered by status and domain, paginated, another workspace's never shown (404)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainRenewalStatus, Role
from tests.factories import Caller, make_domain, make_domain_renewal, make_member, make_tenant

LIST = "/v1/domain-renewals"


def test_listed_newest_first_with_filters_and_pages(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    one = make_domain(db, owner.workspace_id)
    two = make_domain(db, owner.workspace_id)
    first = make_domain_renewal(db, one, days=1)
    second = make_domain_renewal(db, one, status=DomainRenewalStatus.FAILED, days=400)
    third = make_domain_renewal(db, two, status=DomainRenewalStatus.PENDING, days=2)
    viewer = make_member(db, owner, Role.VIEWER)  # reading is for every member

    body = client.get(LIST, headers=viewer.headers).json()
    assert [i["id"] for i in body["items"]] == [str(third), str(second), str(first)]
    assert body["next_cursor"] is None
    shown = body["items"][1]
    assert shown["domain_id"] == str(one.id)
    assert shown["domain_name"] == one.name
    assert shown["status"] == "FAILED"
    assert shown["failure_reason"] == "insufficient_funds"
    assert shown["amount_cents"] == 1458
    assert shown["registrar"] == "namecheap"

    def ids(query: str) -> list[str]:
        response = client.get(f"{LIST}?{query}", headers=owner.headers)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert ids("status=FAILED") == [str(second)]
    assert ids("status=FAILED&status=PENDING") == [str(third), str(second)]
    assert ids(f"domain_id={one.id}") == [str(second), str(first)]
    assert ids(f"domain_id={two.id}&status=SUCCEEDED") == []

    page = client.get(f"{LIST}?limit=2", headers=owner.headers).json()
    assert [i["id"] for i in page["items"]] == [str(third), str(second)]
    rest = client.get(f"{LIST}?limit=2&cursor={page['next_cursor']}", headers=owner.headers)
    assert [i["id"] for i in rest.json()["items"]] == [str(first)]
    assert rest.json()["next_cursor"] is None


def test_one_renewal_and_other_workspaces(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    found = make_domain_renewal(db, domain)
    response = client.get(f"{LIST}/{found}", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["domain_name"] == domain.name
    assert response.json()["status"] == "SUCCEEDED"

    intruder: Caller = make_tenant(db)
    hidden = client.get(f"{LIST}/{found}", headers=intruder.headers)
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "domain_renewal_not_found"
    missing = client.get(f"{LIST}/{uuid.uuid4()}", headers=owner.headers)
    assert missing.json()["code"] == "domain_renewal_not_found"
    assert client.get(LIST, headers=intruder.headers).json()["items"] == []
    by_domain = client.get(f"{LIST}?domain_id={domain.id}", headers=intruder.headers)
    assert by_domain.json()["items"] == []


def test_bad_filters_are_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    assert client.get(f"{LIST}?status=LOST", headers=owner.headers).status_code == 422
    bad = client.get(f"{LIST}?cursor=not-a-cursor", headers=owner.headers)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_cursor"
