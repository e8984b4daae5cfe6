"""Zapmail's domain lists: the assignable example's shape, filters, pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import update

from mailfleet.db import Database
from mailfleet.models import Domain, DomainStatus, MailboxStatus, MailboxType
from tests.factories import make_domain, make_mailbox, make_tenant

API = "/zapmail/api"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_assignable_has_the_documented_item_and_leaves_full_domains_out(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    free = make_domain(db, owner.workspace_id, name="abc.com", mailbox_type=MailboxType.GOOGLE)
    full = make_domain(db, owner.workspace_id, name="full.com", mailbox_type=MailboxType.GOOGLE)
    make_domain(db, owner.workspace_id, name="waiting.com", status=DomainStatus.PENDING_NS)
    for _ in range(5):
        make_mailbox(db, full)
    make_mailbox(db, free, status=MailboxStatus.FAILED)  # a failed one holds no place

    response = client.get(f"{API}/v2/domains/assignable", headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Domains fetched successfully"
    data = body["data"]
    assert list(data) == ["totalSearchedCount", "currentPage", "nextPage", "totalPages", "domains"]
    assert (data["totalSearchedCount"], data["currentPage"], data["nextPage"]) == (1, 1, 2)
    assert data["totalPages"] == 1
    [item] = data["domains"]
    assert list(item)[:12] == [
        "id",
        "workspaceId",
        "domain",
        "status",
        "createdAt",
        "updatedAt",
        "forwardTo",
        "forwardToAddedOnReseller",
        "dmarcEmail",
        "dmarcEmailAddedToReseller",
        "assignedMailboxesCount",
        "mailboxes",
    ]
    assert item["id"] == str(free.id)
    assert item["workspaceId"] == str(owner.workspace_id)
    assert (item["domain"], item["status"], item["assignedMailboxesCount"]) == (
        "abc.com",
        "ACTIVE",
        "0",
    )
    assert item["forwardTo"] is None
    assert item["forwardToAddedOnReseller"] is False
    assert ISO_MS.match(item["createdAt"])
    assert item["serviceProvider"] == "GOOGLE"


def test_list_and_filters(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    active = make_domain(db, owner.workspace_id, name="alpha.com")
    make_domain(db, owner.workspace_id, name="beta.com", status=DomainStatus.PENDING_NS)
    make_domain(db, owner.workspace_id, name="gamma.com", status=DomainStatus.QUEUED)
    make_domain(db, owner.workspace_id, name="gone.com", status=DomainStatus.REMOVED)
    make_mailbox(db, active)
    with db.transaction() as session:
        session.execute(update(Domain).where(Domain.id == active.id).values(tags=["warm", "q4"]))
    headers = owner.zapmail_headers

    every = client.get(f"{API}/v2/domains?limit=2", headers=headers).json()["data"]
    assert every["totalSearchedCount"] == 3
    assert [d["domain"] for d in every["domains"]] == ["alpha.com", "beta.com"]
    assert every["domains"][0]["assignedMailboxesCount"] == "1"
    assert len(every["domains"][0]["mailboxes"]) == 1
    v1 = client.get(f"{API}/v1/domain/list?page=2&limit=2", headers=headers).json()["data"]
    assert [d["domain"] for d in v1["domains"]] == ["gamma.com"]

    def names(body: dict[str, object]) -> list[str]:
        found = client.post(f"{API}/v2/domains", json=body, headers=headers)
        assert found.status_code == 200, found.text
        return [d["domain"] for d in found.json()["data"]["domains"]]

    assert names({"status": "IN_PROGRESS"}) == ["beta.com"]
    assert names({"status": "PENDING"}) == ["gamma.com"]
    assert names({"status": "active", "contains": "alp"}) == ["alpha.com"]
    assert names({"tagIds": ["q4"]}) == ["alpha.com"]
    assert names({"tagIds": ["q"]}) == []
    assert names({"status": "EXPIRED"}) == []
    bad = client.post(f"{API}/v2/domains", json={"status": "LOST"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["field"] == "status"


def test_another_workspaces_domains_never_show(db: Database, client: TestClient) -> None:
    owner, stranger = make_tenant(db), make_tenant(db)
    make_domain(db, owner.workspace_id, name="secret-domain.com")

    for path in ("/v2/domains", "/v2/domains/assignable", "/v1/domain/list"):
        response = client.get(f"{API}{path}", headers=stranger.zapmail_headers)
        assert response.status_code == 200
        assert "secret-domain" not in response.text
