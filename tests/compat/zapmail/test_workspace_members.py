"""Zapmail's workspace members and invitations (reference 4.2, 5.3) against /zapmail/api:
shapes field by field, numbered pages, the OWNER-only rule, the x-workspace-key workspace, and
refused requests that change nothing."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Invitation, InvitationStatus, Membership, Role
from tests.compat.zapmail.workspaces_common import ok, refused
from tests.factories import Caller, count_rows, make_key, make_member, make_tenant, make_user

API = "/zapmail/api"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MEMBERS = f"{API}/v2/workspaces/members"
INVITATIONS = f"{API}/v2/workspaces/invitations"
PAGE_KEYS = ["totalSearchedCount", "currentPage", "nextPage", "totalPages"]
MEMBER_KEYS = ["id", "email", "firstName", "lastName", "role", "joinedAt"]
INVITATION_KEYS = ["id", "email", "role", "status", "createdAt", "expiresAt"]


def members(client: TestClient, caller: Caller, **params: Any) -> Any:
    response = client.get(MEMBERS, params=params, headers=caller.zapmail_headers)
    return ok(response, "Members fetched successfully")


def invitations(client: TestClient, caller: Caller, **params: Any) -> Any:
    response = client.get(INVITATIONS, params=params, headers=caller.zapmail_headers)
    return ok(response, "Invitations fetched successfully")


def roles(db: Database, workspace_id: uuid.UUID) -> dict[uuid.UUID, Role]:
    with db.transaction() as session:
        rows = session.query(Membership).filter_by(workspace_id=workspace_id).all()
        return {row.user_id: row.role for row in rows}


def invite(client: TestClient, owner: Caller, email: str, role: str = "EDITOR") -> Any:
    response = client.post(
        INVITATIONS, json={"email": email, "role": role}, headers=owner.zapmail_headers
    )
    return ok(response, "Invitation sent successfully")


# --- members ------------------------------------------------------------------------------


def test_member_list_field_by_field(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    editor = make_member(db, owner, Role.EDITOR)

    data = members(client, owner, page="1", limit="10")

    assert list(data) == [*PAGE_KEYS, "members"]
    assert data["totalSearchedCount"] == 2
    assert data["currentPage"] == 1
    assert data["nextPage"] == 2
    assert data["totalPages"] == 1
    first, second = data["members"]
    assert list(first) == MEMBER_KEYS
    # Oldest first; Mailfleet's OWNER is Zapmail's ADMIN; the id is the user's (the memberId).
    assert first["id"] == str(owner.user_id)
    assert first["email"] == owner.email
    assert first["role"] == "ADMIN"
    assert (first["firstName"], first["lastName"]) == ("Owner", "")
    assert ISO_MS.match(first["joinedAt"])
    assert second["id"] == str(editor.user_id)
    assert second["role"] == "EDITOR"


def test_member_pages(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    added = [make_member(db, owner, Role.VIEWER) for _ in range(2)]
    every = [str(owner.user_id), *(str(m.user_id) for m in added)]

    pages = [members(client, owner, page=n, limit=1) for n in (1, 2, 3, 4)]

    assert [[m["id"] for m in p["members"]] for p in pages] == [
        every[:1],
        every[1:2],
        every[2:],
        [],
    ]
    assert [p["totalSearchedCount"] for p in pages] == [3, 3, 3, 3]
    assert [p["totalPages"] for p in pages] == [3, 3, 3, 3]
    assert [p["currentPage"] for p in pages] == [1, 2, 3, 4]
    assert members(client, owner, page=1, limit=2)["totalPages"] == 2


def test_members_are_the_x_workspace_key_workspaces(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    make_member(db, owner, Role.VIEWER)
    other = ok(
        client.post(
            f"{API}/v1/workspace/create", json={"name": "Solo"}, headers=owner.zapmail_headers
        ),
        "Workspace created successfully",
    )
    solo = Caller(owner.user_id, owner.email, owner.token, uuid.UUID(other["id"]))

    assert members(client, solo)["totalSearchedCount"] == 1
    assert members(client, owner)["totalSearchedCount"] == 2
    # Without the header the first workspace is used (reference 1.2's default).
    response = client.get(MEMBERS, headers={"x-auth-zapmail": owner.token})
    assert ok(response, "Members fetched successfully")["totalSearchedCount"] == 2


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EDITOR, Role.VIEWER])
def test_members_are_managed_by_the_owner_only(
    db: Database, client: TestClient, role: Role
) -> None:
    owner = make_tenant(db)
    caller = make_member(db, owner, role)
    target = make_member(db, owner, Role.VIEWER)
    before = roles(db, owner.workspace_id)
    h = caller.zapmail_headers
    member_id = {"memberId": str(target.user_id)}

    for response in (
        client.get(MEMBERS, headers=h),
        client.put(MEMBERS, params=member_id, json={"role": "ADMIN"}, headers=h),
        client.delete(MEMBERS, params=member_id, headers=h),
    ):
        body = refused(response, 403, "insufficient_role")
        assert target.email not in response.text
        assert body["message"]
    assert roles(db, owner.workspace_id) == before


def test_change_role(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, Role.VIEWER)

    response = client.put(
        MEMBERS,
        params={"memberId": str(member.user_id)},
        json={"role": "EDITOR"},
        headers=owner.zapmail_headers,
    )

    data = ok(response, "User role updated successfully")
    assert list(data) == MEMBER_KEYS
    assert data["id"] == str(member.user_id)
    assert data["role"] == "EDITOR"
    assert roles(db, owner.workspace_id)[member.user_id] == Role.EDITOR
    listed = {m["id"]: m["role"] for m in members(client, owner)["members"]}
    assert listed[str(member.user_id)] == "EDITOR"


@pytest.mark.parametrize(
    ("body", "params"),
    [
        ({"role": "OWNER"}, None),
        ({"role": "editor"}, None),
        ({}, None),
        ({"role": "EDITOR"}, {}),
        ({"role": "EDITOR"}, {"memberId": "not-a-uuid"}),
    ],
)
def test_an_invalid_role_change_changes_nothing(
    db: Database, client: TestClient, body: dict[str, Any], params: dict[str, str] | None
) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, Role.VIEWER)
    before = roles(db, owner.workspace_id)
    query = {"memberId": str(member.user_id)} if params is None else params

    response = client.put(MEMBERS, params=query, json=body, headers=owner.zapmail_headers)

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["data"] is None
    assert roles(db, owner.workspace_id) == before


def test_an_unknown_or_foreign_member_is_not_found(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    stranger = make_tenant(db)
    before = roles(db, stranger.workspace_id)

    for member_id in (uuid.uuid4(), stranger.user_id):
        params = {"memberId": str(member_id)}
        put = client.put(
            MEMBERS, params=params, json={"role": "VIEWER"}, headers=owner.zapmail_headers
        )
        delete = client.delete(MEMBERS, params=params, headers=owner.zapmail_headers)
        refused(put, 404, "member_not_found")
        refused(delete, 404, "member_not_found")
    assert roles(db, stranger.workspace_id) == before


def test_the_last_owner_is_kept(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    params = {"memberId": str(owner.user_id)}
    h = owner.zapmail_headers

    demote = client.put(MEMBERS, params=params, json={"role": "VIEWER"}, headers=h)
    leave = client.delete(MEMBERS, params=params, headers=h)

    refused(demote, 400, "last_owner")
    refused(leave, 400, "last_owner")
    assert roles(db, owner.workspace_id) == {owner.user_id: Role.OWNER}


def test_revoke_access(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, Role.EDITOR)

    response = client.delete(
        MEMBERS, params={"memberId": str(member.user_id)}, headers=owner.zapmail_headers
    )

    assert ok(response, "User access revoked successfully") is None
    assert member.user_id not in roles(db, owner.workspace_id)
    assert members(client, owner)["totalSearchedCount"] == 1
    # The removed member's key no longer reaches the workspace.
    refused(
        client.get(f"{API}/v2/users", headers=member.zapmail_headers), 404, "workspace_not_found"
    )


def test_a_member_may_leave(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)

    response = client.delete(
        MEMBERS, params={"memberId": str(viewer.user_id)}, headers=viewer.zapmail_headers
    )

    assert ok(response, "User access revoked successfully") is None
    assert viewer.user_id not in roles(db, owner.workspace_id)


def test_the_member_calls_agree_with_the_native_api(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, Role.VIEWER)
    native = client.get(f"/v1/workspaces/{owner.workspace_id}/members", headers=owner.headers)
    assert native.status_code == 200, native.text
    native_ids = sorted(item["user_id"] for item in native.json()["items"])
    assert sorted(m["id"] for m in members(client, owner)["members"]) == native_ids

    client.put(
        MEMBERS,
        params={"memberId": str(member.user_id)},
        json={"role": "ADMIN"},
        headers=owner.zapmail_headers,
    )
    native = client.get(f"/v1/workspaces/{owner.workspace_id}/members", headers=owner.headers)
    by_user = {item["user_id"]: item["role"] for item in native.json()["items"]}
    assert by_user[str(member.user_id)] == "ADMIN"


def test_another_users_workspace_key_lists_nothing(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    make_member(db, owner, Role.EDITOR)
    stranger = make_tenant(db)
    headers = {**stranger.zapmail_headers, "x-workspace-key": str(owner.workspace_id)}

    for response in (
        client.get(MEMBERS, headers=headers),
        client.get(INVITATIONS, headers=headers),
        client.post(
            INVITATIONS, json={"email": "x@example.com", "role": "VIEWER"}, headers=headers
        ),
    ):
        body = refused(response, 404, "workspace_not_found")
        assert body["field"] == "x-workspace-key"
        assert owner.email not in response.text
    assert count_rows(db, Invitation, workspace_id=owner.workspace_id) == 0


# --- invitations --------------------------------------------------------------------------


def test_send_invitation_field_by_field(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)

    data = invite(client, owner, "Mate@Example.com", "VIEWER")

    assert list(data) == INVITATION_KEYS
    uuid.UUID(data["id"])
    assert data["email"] == "mate@example.com"
    assert data["role"] == "VIEWER"
    assert data["status"] == "PENDING"
    assert ISO_MS.match(data["createdAt"])
    assert ISO_MS.match(data["expiresAt"])
    assert data["expiresAt"] > data["createdAt"]
    assert count_rows(db, Invitation, workspace_id=owner.workspace_id) == 1


def test_invitation_list_field_by_field_newest_first(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    sent = [invite(client, owner, f"guest{n}@example.com") for n in range(3)]

    data = invitations(client, owner, page="1", limit="10")

    assert list(data) == [*PAGE_KEYS, "invitations"]
    assert [data[key] for key in PAGE_KEYS] == [3, 1, 2, 1]
    assert [item["id"] for item in data["invitations"]] == [s["id"] for s in reversed(sent)]
    assert data["invitations"][0] == sent[-1]
    one = [invitations(client, owner, page=n, limit=1) for n in (1, 3, 4)]
    assert [[i["id"] for i in p["invitations"]] for p in one] == [
        [sent[2]["id"]],
        [sent[0]["id"]],
        [],
    ]
    assert [p["totalPages"] for p in one] == [3, 3, 3]


def test_every_status_is_listed(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    emails = {
        status: f"{status.lower()}@example.com"
        for status in ("ACCEPTED", "REJECTED", "REVOKED", "PENDING")
    }
    sent = {status: invite(client, owner, email) for status, email in emails.items()}
    for status in ("ACCEPTED", "REJECTED"):
        invitee = make_user(db, email=emails[status])
        token = make_key(db, invitee.id)
        verb = "accept" if status == "ACCEPTED" else "reject"
        answered = client.post(
            f"/v1/invitations/{sent[status]['id']}/{verb}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answered.status_code == 200, answered.text
    revoked = client.delete(
        INVITATIONS, params={"invitationId": sent["REVOKED"]["id"]}, headers=owner.zapmail_headers
    )
    assert ok(revoked, "Invitation revoked successfully") is None

    listed = {i["id"]: i["status"] for i in invitations(client, owner)["invitations"]}

    assert listed == {sent[status]["id"]: status for status in sent}
    # The accepted invitee is a member now, with the invited role.
    assert "EDITOR" in {m["role"] for m in members(client, owner)["members"]}


def test_invitations_are_sent_by_the_owner_only(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    pending = invite(client, owner, "guest@example.com")
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
        caller = make_member(db, owner, role)
        h = caller.zapmail_headers
        for response in (
            client.post(
                INVITATIONS, json={"email": "new@example.com", "role": "VIEWER"}, headers=h
            ),
            client.get(INVITATIONS, headers=h),
            client.delete(INVITATIONS, params={"invitationId": pending["id"]}, headers=h),
        ):
            refused(response, 403, "insufficient_role")
            assert "guest@example.com" not in response.text
    assert count_rows(db, Invitation, workspace_id=owner.workspace_id) == 1
    assert invitations(client, owner)["invitations"][0]["status"] == "PENDING"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "nobody", "role": "EDITOR"},
        {"email": "a@example.com", "role": "OWNER"},
        {"email": "a@example.com"},
        {"role": "EDITOR"},
    ],
)
def test_an_invalid_invitation_sends_nothing(
    db: Database, client: TestClient, body: dict[str, Any]
) -> None:
    owner = make_tenant(db)

    response = client.post(INVITATIONS, json=body, headers=owner.zapmail_headers)

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["data"] is None
    assert count_rows(db, Invitation, workspace_id=owner.workspace_id) == 0


def test_a_member_or_a_pending_invitee_is_not_invited_twice(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, Role.VIEWER)
    invite(client, owner, "twice@example.com")
    h = owner.zapmail_headers

    again = client.post(
        INVITATIONS, json={"email": "twice@example.com", "role": "ADMIN"}, headers=h
    )
    joined = client.post(INVITATIONS, json={"email": member.email, "role": "ADMIN"}, headers=h)

    refused(again, 400, "invitation_pending")
    refused(joined, 400, "already_member")
    assert count_rows(db, Invitation, workspace_id=owner.workspace_id) == 1


def test_revoke_invitation(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    sent = invite(client, owner, "gone@example.com")

    response = client.delete(
        INVITATIONS, params={"invitationId": sent["id"]}, headers=owner.zapmail_headers
    )

    assert ok(response, "Invitation revoked successfully") is None
    with db.transaction() as session:
        assert session.get_one(Invitation, uuid.UUID(sent["id"])).status == InvitationStatus.REVOKED
    # Only a pending invitation is revoked: a second time is refused and changes nothing.
    again = client.delete(
        INVITATIONS, params={"invitationId": sent["id"]}, headers=owner.zapmail_headers
    )
    refused(again, 400, "invitation_not_pending")
    assert invitations(client, owner)["invitations"][0]["status"] == "REVOKED"


def test_another_workspaces_invitation_is_not_found(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    stranger = make_tenant(db)
    theirs = invite(client, stranger, "theirs@example.com")

    for invitation_id in (theirs["id"], str(uuid.uuid4())):
        response = client.delete(
            INVITATIONS, params={"invitationId": invitation_id}, headers=owner.zapmail_headers
        )
        refused(response, 404, "invitation_not_found")
        assert "theirs@example.com" not in response.text
    assert invitations(client, stranger)["invitations"][0]["status"] == "PENDING"
