from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxStatus, Role
from tests.factories import (
    Caller,
    make_domain,
    make_key,
    make_mailbox,
    make_member,
    make_tenant,
)


def _workspace(client: TestClient, caller: Caller) -> dict[str, object]:
    response = client.get(f"/v1/workspaces/{caller.workspace_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_creating_a_workspace_makes_the_caller_its_owner(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post("/v1/workspaces", json={"name": "  Agency  "}, headers=owner.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "Agency"
    assert created["role"] == "OWNER"
    assert created["owner_id"] == str(owner.user_id)
    listed = client.get("/v1/workspaces", headers=owner.headers).json()
    assert {w["id"]: w["role"] for w in listed["items"]} == {
        str(owner.workspace_id): "OWNER",
        created["id"]: "OWNER",
    }
    got = client.get(f"/v1/workspaces/{created['id']}", headers=owner.headers)
    assert got.status_code == 200
    assert got.json()["name"] == "Agency"


def test_workspace_name_is_unique_per_owner(db: Database, client: TestClient) -> None:
    owner, other = make_tenant(db), make_tenant(db)
    assert client.post("/v1/workspaces", json={"name": "Sales"}, headers=owner.headers).is_success
    response = client.post("/v1/workspaces", json={"name": "Sales"}, headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "workspace_name_taken"
    assert len(client.get("/v1/workspaces", headers=owner.headers).json()["items"]) == 2
    # Another owner may use the same name.
    response = client.post("/v1/workspaces", json={"name": "Sales"}, headers=other.headers)
    assert response.status_code == 201


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "bad\x00name"])
def test_workspace_name_must_be_a_short_non_empty_string(
    db: Database, client: TestClient, name: str
) -> None:
    owner = make_tenant(db)
    response = client.post("/v1/workspaces", json={"name": name}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert len(client.get("/v1/workspaces", headers=owner.headers).json()["items"]) == 1


def test_list_shows_the_callers_role_in_each_workspace(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    stranger = make_tenant(db)
    listed = client.get("/v1/workspaces", headers=viewer.headers).json()["items"]
    assert [(w["id"], w["role"]) for w in listed] == [(str(owner.workspace_id), "VIEWER")]
    assert str(stranger.workspace_id) not in {w["id"] for w in listed}


def test_admin_renames_the_workspace(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    admin = make_member(db, owner, Role.ADMIN)
    response = client.patch(
        f"/v1/workspaces/{owner.workspace_id}", json={"name": "Renamed"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "ADMIN"
    assert _workspace(client, owner)["name"] == "Renamed"


def test_rename_to_a_name_the_owner_already_uses_is_refused(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    client.post("/v1/workspaces", json={"name": "Taken"}, headers=owner.headers)
    before = _workspace(client, owner)["name"]
    response = client.patch(
        f"/v1/workspaces/{owner.workspace_id}", json={"name": "Taken"}, headers=owner.headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "workspace_name_taken"
    assert _workspace(client, owner)["name"] == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_below_admin_cannot_rename(db: Database, client: TestClient, role: Role) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, role)
    before = _workspace(client, owner)["name"]
    response = client.patch(
        f"/v1/workspaces/{owner.workspace_id}", json={"name": "Mine now"}, headers=member.headers
    )
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert _workspace(client, owner)["name"] == before


def test_owner_deletes_an_empty_workspace(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    created = client.post("/v1/workspaces", json={"name": "Temp"}, headers=owner.headers).json()
    make_domain(db, uuid.UUID(created["id"]), status=DomainStatus.REMOVED)
    response = client.delete(f"/v1/workspaces/{created['id']}", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": created["id"], "deleted": True}
    gone = client.get(f"/v1/workspaces/{created['id']}", headers=owner.headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == "workspace_not_found"
    listed = client.get("/v1/workspaces", headers=owner.headers).json()["items"]
    assert [w["id"] for w in listed] == [str(owner.workspace_id)]


def test_admin_cannot_delete_the_workspace(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    admin = make_member(db, owner, Role.ADMIN)
    response = client.delete(f"/v1/workspaces/{owner.workspace_id}", headers=admin.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    _workspace(client, owner)


@pytest.mark.parametrize("status", [DomainStatus.QUEUED, DomainStatus.ACTIVE, DomainStatus.FAILED])
def test_workspace_with_a_live_domain_cannot_be_deleted(
    db: Database, client: TestClient, status: DomainStatus
) -> None:
    owner = make_tenant(db)
    make_domain(db, owner.workspace_id, status=status)
    response = client.delete(f"/v1/workspaces/{owner.workspace_id}", headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "workspace_not_empty"
    _workspace(client, owner)


def test_workspace_with_a_mailbox_cannot_be_deleted(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    # The domain is REMOVED, yet a mailbox still lives on it.
    domain = make_domain(db, owner.workspace_id, status=DomainStatus.REMOVED)
    make_mailbox(db, domain, status=MailboxStatus.ACTIVE)
    response = client.delete(f"/v1/workspaces/{owner.workspace_id}", headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "workspace_not_empty"
    _workspace(client, owner)


def _routes(ws: uuid.UUID, user: uuid.UUID) -> list[tuple[str, str, dict[str, object] | None]]:
    invitation = uuid.uuid4()
    billing = {
        "company_name": "Acme",
        "contact_email": "billing@acme.test",
        "address_line1": "1 Main St",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    }
    return [
        ("GET", f"/v1/workspaces/{ws}", None),
        ("PATCH", f"/v1/workspaces/{ws}", {"name": "Hijacked"}),
        ("DELETE", f"/v1/workspaces/{ws}", None),
        ("GET", f"/v1/workspaces/{ws}/members", None),
        ("PATCH", f"/v1/workspaces/{ws}/members/{user}", {"role": "VIEWER"}),
        ("DELETE", f"/v1/workspaces/{ws}/members/{user}", None),
        ("GET", f"/v1/workspaces/{ws}/invitations", None),
        ("POST", f"/v1/workspaces/{ws}/invitations", {"email": "x@example.com", "role": "OWNER"}),
        ("DELETE", f"/v1/workspaces/{ws}/invitations/{invitation}", None),
        ("GET", f"/v1/workspaces/{ws}/billing", None),
        ("PUT", f"/v1/workspaces/{ws}/billing", billing),
    ]


def test_a_non_member_gets_404_on_every_workspace_route(db: Database, client: TestClient) -> None:
    owner, stranger = make_tenant(db), make_tenant(db)
    for method, path, body in _routes(owner.workspace_id, owner.user_id):
        response = client.request(method, path, json=body, headers=stranger.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "workspace_not_found", (method, path)
    # Nothing the stranger tried changed anything.
    assert _workspace(client, owner)["name"] != "Hijacked"
    members = client.get(f"/v1/workspaces/{owner.workspace_id}/members", headers=owner.headers)
    assert [m["role"] for m in members.json()["items"]] == ["OWNER"]
    invitations = client.get(
        f"/v1/workspaces/{owner.workspace_id}/invitations", headers=owner.headers
    )
    assert invitations.json()["items"] == []


def test_an_unknown_workspace_looks_like_a_foreign_one(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    for method, path, body in _routes(uuid.uuid4(), owner.user_id):
        response = client.request(method, path, json=body, headers=owner.headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "workspace_not_found"


def test_a_viewer_cannot_write_anywhere(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    reads = {"GET"}
    for method, path, body in _routes(owner.workspace_id, owner.user_id):
        if method in reads and not path.endswith(("/billing", "/invitations")):
            continue
        response = client.request(method, path, json=body, headers=viewer.headers)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "insufficient_role", (method, path)
    assert _workspace(client, owner)["name"] != "Hijacked"
    members = client.get(f"/v1/workspaces/{owner.workspace_id}/members", headers=owner.headers)
    assert sorted(m["role"] for m in members.json()["items"]) == ["OWNER", "VIEWER"]
    billing = client.get(f"/v1/workspaces/{owner.workspace_id}/billing", headers=owner.headers)
    assert billing.json()["billing_details"] is None


def test_a_viewer_reads_the_workspace_but_not_its_member_list(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    assert _workspace(client, viewer)["role"] == "VIEWER"
    # The member list (everyone's email and role) belongs to managing members: OWNERs only.
    members = client.get(f"/v1/workspaces/{owner.workspace_id}/members", headers=viewer.headers)
    assert members.status_code == 403
    assert members.json()["code"] == "insufficient_role"


def test_a_key_pinned_to_one_workspace_sees_no_other(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    other = client.post("/v1/workspaces", json={"name": "Other"}, headers=owner.headers).json()
    pinned = Caller(
        owner.user_id,
        owner.email,
        make_key(db, owner.user_id, workspace_id=owner.workspace_id),
        owner.workspace_id,
    )
    listed = client.get("/v1/workspaces", headers=pinned.headers).json()["items"]
    assert [w["id"] for w in listed] == [str(owner.workspace_id)]
    response = client.get(f"/v1/workspaces/{other['id']}", headers=pinned.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "workspace_not_found"
    response = client.post("/v1/workspaces", json={"name": "Escape"}, headers=pinned.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "key_pinned"
