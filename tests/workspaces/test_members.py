from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Role
from tests.factories import Caller, make_member, make_tenant


def _roles(client: TestClient, owner: Caller) -> dict[str, str]:
    response = client.get(f"/v1/workspaces/{owner.workspace_id}/members", headers=owner.headers)
    assert response.status_code == 200, response.text
    return {m["user_id"]: m["role"] for m in response.json()["items"]}


def _member_path(caller: Caller, user_id: uuid.UUID) -> str:
    return f"/v1/workspaces/{caller.workspace_id}/members/{user_id}"


def test_members_are_listed_with_email_and_role(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    editor = make_member(db, owner, Role.EDITOR)
    make_tenant(db)  # someone else's workspace stays out of the list
    response = client.get(f"/v1/workspaces/{owner.workspace_id}/members", headers=owner.headers)
    items = response.json()["items"]
    assert {(m["email"], m["role"]) for m in items} == {
        (owner.email, "OWNER"),
        (editor.email, "EDITOR"),
    }
    assert response.json()["next_cursor"] is None


def test_member_list_is_paginated(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    for _ in range(3):
        make_member(db, owner, Role.VIEWER)
    path = f"/v1/workspaces/{owner.workspace_id}/members"
    first = client.get(path, params={"limit": 2}, headers=owner.headers).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = client.get(
        path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=owner.headers
    ).json()
    assert len(rest["items"]) == 2
    assert rest["next_cursor"] is None
    assert len({m["user_id"] for m in first["items"] + rest["items"]}) == 4


def test_owner_changes_a_members_role(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    response = client.patch(
        _member_path(owner, viewer.user_id), json={"role": "ADMIN"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "ADMIN"
    assert _roles(client, owner)[str(viewer.user_id)] == "ADMIN"


def test_an_admin_cannot_change_roles(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    admin = make_member(db, owner, Role.ADMIN)
    viewer = make_member(db, owner, Role.VIEWER)
    response = client.patch(
        _member_path(owner, viewer.user_id), json={"role": "ADMIN"}, headers=admin.headers
    )
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert _roles(client, owner)[str(viewer.user_id)] == "VIEWER"


def test_an_unknown_role_is_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    response = client.patch(
        _member_path(owner, viewer.user_id), json={"role": "GOD"}, headers=owner.headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert _roles(client, owner)[str(viewer.user_id)] == "VIEWER"


def test_changing_a_non_member_is_404(db: Database, client: TestClient) -> None:
    owner, stranger = make_tenant(db), make_tenant(db)
    response = client.patch(
        _member_path(owner, stranger.user_id), json={"role": "ADMIN"}, headers=owner.headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"
    assert str(stranger.user_id) not in _roles(client, owner)


def test_the_last_owner_cannot_be_demoted(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.patch(
        _member_path(owner, owner.user_id), json={"role": "ADMIN"}, headers=owner.headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert _roles(client, owner) == {str(owner.user_id): "OWNER"}


def test_an_owner_can_be_demoted_while_another_owner_remains(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    second = make_member(db, owner, Role.OWNER)
    response = client.patch(
        _member_path(owner, owner.user_id), json={"role": "EDITOR"}, headers=second.headers
    )
    assert response.status_code == 200, response.text
    assert _roles(client, second) == {str(owner.user_id): "EDITOR", str(second.user_id): "OWNER"}


def test_the_last_owner_cannot_leave(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    make_member(db, owner, Role.ADMIN)
    response = client.delete(_member_path(owner, owner.user_id), headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert _roles(client, owner)[str(owner.user_id)] == "OWNER"


def test_an_owner_leaves_when_another_owner_remains(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    second = make_member(db, owner, Role.OWNER)
    response = client.delete(_member_path(owner, owner.user_id), headers=owner.headers)
    assert response.status_code == 200, response.text
    assert _roles(client, second) == {str(second.user_id): "OWNER"}


def test_owner_removes_a_member(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    editor = make_member(db, owner, Role.EDITOR)
    response = client.delete(_member_path(owner, editor.user_id), headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is True
    assert str(editor.user_id) not in _roles(client, owner)
    # The removed member no longer reaches the workspace.
    gone = client.get(f"/v1/workspaces/{owner.workspace_id}", headers=editor.headers)
    assert gone.status_code == 404


def test_a_member_removes_themself(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    response = client.delete(_member_path(owner, viewer.user_id), headers=viewer.headers)
    assert response.status_code == 200, response.text
    assert str(viewer.user_id) not in _roles(client, owner)


def test_an_admin_cannot_remove_another_member(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    admin = make_member(db, owner, Role.ADMIN)
    viewer = make_member(db, owner, Role.VIEWER)
    response = client.delete(_member_path(owner, viewer.user_id), headers=admin.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert str(viewer.user_id) in _roles(client, owner)
