from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Role
from tests.factories import Caller, make_key, make_member, make_tenant


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _keys(client: TestClient, caller: Caller) -> list[dict[str, Any]]:
    response = client.get("/v1/api-keys", headers=caller.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_new_key_is_shown_once_and_works(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post("/v1/api-keys", json={"name": "ci"}, headers=owner.headers)
    assert response.status_code == 201, response.text
    issued = response.json()
    token = issued["key"]
    assert token.startswith(issued["prefix"] + "_")
    assert issued["workspace_id"] is None
    assert issued["revoked_at"] is None
    assert client.get("/v1/account", headers=_auth(token)).status_code == 200

    listed = _keys(client, owner)
    assert {k["name"] for k in listed} == {"test", "ci"}
    for key in listed:
        assert set(key) == {
            "id",
            "name",
            "prefix",
            "workspace_id",
            "created_at",
            "last_used_at",
            "revoked_at",
        }
    assert token not in client.get("/v1/api-keys", headers=owner.headers).text


def test_a_revoked_key_is_refused_on_the_next_request(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    issued = client.post("/v1/api-keys", json={"name": "temp"}, headers=owner.headers).json()
    response = client.delete(f"/v1/api-keys/{issued['id']}", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["revoked_at"] is not None
    refused = client.get("/v1/account", headers=_auth(issued["key"]))
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_api_key"
    revoked = {k["id"]: k["revoked_at"] for k in _keys(client, owner)}
    assert revoked[issued["id"]] is not None


def test_a_key_can_revoke_itself(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    key_id = _keys(client, owner)[0]["id"]
    assert client.delete(f"/v1/api-keys/{key_id}", headers=owner.headers).status_code == 200
    refused = client.get("/v1/api-keys", headers=owner.headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_api_key"


def test_another_users_key_cannot_be_revoked(db: Database, client: TestClient) -> None:
    owner, other = make_tenant(db), make_tenant(db)
    other_key = _keys(client, other)[0]["id"]
    response = client.delete(f"/v1/api-keys/{other_key}", headers=owner.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "api_key_not_found"
    assert _keys(client, other)[0]["revoked_at"] is None
    assert other_key not in {k["id"] for k in _keys(client, owner)}


def test_a_key_is_pinned_to_a_workspace_of_the_caller(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post(
        "/v1/api-keys",
        json={"name": "pinned", "workspace_id": str(owner.workspace_id)},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["workspace_id"] == str(owner.workspace_id)


def test_pinning_to_a_foreign_workspace_is_404(db: Database, client: TestClient) -> None:
    owner, other = make_tenant(db), make_tenant(db)
    response = client.post(
        "/v1/api-keys",
        json={"name": "sneaky", "workspace_id": str(other.workspace_id)},
        headers=owner.headers,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "workspace_not_found"
    assert len(_keys(client, owner)) == 1


def test_a_pinned_key_only_issues_keys_pinned_to_its_workspace(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    other = client.post("/v1/workspaces", json={"name": "Other"}, headers=owner.headers).json()
    pinned = Caller(
        owner.user_id,
        owner.email,
        make_key(db, owner.user_id, workspace_id=owner.workspace_id),
        owner.workspace_id,
    )
    issued = client.post("/v1/api-keys", json={"name": "child"}, headers=pinned.headers)
    assert issued.status_code == 201
    assert issued.json()["workspace_id"] == str(owner.workspace_id)
    escape = client.post(
        "/v1/api-keys", json={"name": "wide", "workspace_id": other["id"]}, headers=pinned.headers
    )
    assert escape.status_code == 404
    assert escape.json()["code"] == "workspace_not_found"
    # It sees only keys pinned like itself, and cannot revoke the unpinned one.
    visible = {k["name"] for k in _keys(client, pinned)}
    assert "test" not in visible
    unpinned = next(k for k in _keys(client, owner) if k["name"] == "test")
    response = client.delete(f"/v1/api-keys/{unpinned['id']}", headers=pinned.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "api_key_not_found"


def test_key_name_is_required(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    for body in ({}, {"name": "  "}, {"name": "x" * 101}, {"name": "ok", "scope": "all"}):
        response = client.post("/v1/api-keys", json=body, headers=owner.headers)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_error"
    assert len(_keys(client, owner)) == 1


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER], ids=lambda r: r.value)
def test_below_admin_no_key_pinned_to_the_workspace_is_issued(
    db: Database, client: TestClient, role: Role
) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, role)
    explicit = client.post(
        "/v1/api-keys",
        json={"name": "pinned", "workspace_id": str(owner.workspace_id)},
        headers=member.headers,
    )
    assert explicit.status_code == 403, explicit.text
    assert explicit.json()["code"] == "insufficient_role"
    # Nor through a key already pinned there (its pin is the default of a new key).
    pinned = Caller(
        member.user_id,
        member.email,
        make_key(db, member.user_id, workspace_id=owner.workspace_id),
        owner.workspace_id,
    )
    implicit = client.post("/v1/api-keys", json={"name": "child"}, headers=pinned.headers)
    assert implicit.status_code == 403, implicit.text
    assert implicit.json()["code"] == "insufficient_role"
    assert not {"pinned", "child"} & {k["name"] for k in _keys(client, member)}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER], ids=lambda r: r.value)
def test_an_admin_or_owner_issues_a_key_pinned_to_the_workspace(
    db: Database, client: TestClient, role: Role
) -> None:
    owner = make_tenant(db)
    member = owner if role == Role.OWNER else make_member(db, owner, role)
    response = client.post(
        "/v1/api-keys",
        json={"name": "pinned", "workspace_id": str(owner.workspace_id)},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["workspace_id"] == str(owner.workspace_id)


def test_a_viewers_own_unpinned_key_acts_only_as_the_viewer(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    issued = client.post("/v1/api-keys", json={"name": "mine"}, headers=viewer.headers)
    assert issued.status_code == 201, issued.text
    assert issued.json()["workspace_id"] is None
    own = Caller(viewer.user_id, viewer.email, issued.json()["key"], owner.workspace_id)
    assert client.get("/v1/domains", headers=own.headers).status_code == 200
    # The new key reads like its user and is refused what its user is refused.
    write = client.post("/v1/domains", json={"domains": ["viewer-key.com"]}, headers=own.headers)
    assert write.status_code == 403
    assert write.json()["code"] == "insufficient_role"
