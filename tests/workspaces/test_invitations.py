from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import Event, Role
from tests.factories import Caller, make_key, make_member, make_tenant, make_user


def _invitee(db: Database, owner: Caller) -> Caller:
    """A user of no workspace yet, with a key (X-Workspace-Id not sent)."""
    user = make_user(db)
    caller = Caller(user.id, user.email, make_key(db, user.id), owner.workspace_id)
    return caller


def _bare(caller: Caller) -> dict[str, str]:
    return {"Authorization": f"Bearer {caller.token}"}


def _invite(client: TestClient, by: Caller, email: str, role: str = "EDITOR") -> Any:
    return client.post(
        f"/v1/workspaces/{by.workspace_id}/invitations",
        json={"email": email, "role": role},
        headers=by.headers,
    )


def _invitations(client: TestClient, owner: Caller) -> list[dict[str, Any]]:
    response = client.get(f"/v1/workspaces/{owner.workspace_id}/invitations", headers=owner.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_invited_user_accepts_and_joins_with_the_role(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    invitee = _invitee(db, owner)
    created = _invite(client, owner, invitee.email.upper(), "EDITOR")
    assert created.status_code == 201, created.text
    invitation = created.json()
    assert invitation["email"] == invitee.email
    assert invitation["status"] == "PENDING"
    assert invitation["invited_by_id"] == str(owner.user_id)

    mine = client.get("/v1/invitations", headers=_bare(invitee)).json()["items"]
    assert [i["id"] for i in mine] == [invitation["id"]]
    assert mine[0]["workspace_name"]

    accepted = client.post(f"/v1/invitations/{invitation['id']}/accept", headers=_bare(invitee))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "ACCEPTED"
    assert accepted.json()["responded_at"] is not None

    workspace = client.get(f"/v1/workspaces/{owner.workspace_id}", headers=invitee.headers)
    assert workspace.status_code == 200
    assert workspace.json()["role"] == "EDITOR"
    assert client.get("/v1/invitations", headers=_bare(invitee)).json()["items"] == []
    # The new member can now act as an EDITOR in the workspace.
    domains = client.post("/v1/domains", json={"domains": ["joined.com"]}, headers=invitee.headers)
    assert domains.status_code == 201

    again = client.post(f"/v1/invitations/{invitation['id']}/accept", headers=_bare(invitee))
    assert again.status_code == 409
    assert again.json()["code"] == "invitation_not_pending"


def test_invited_user_rejects(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    invitee = _invitee(db, owner)
    invitation = _invite(client, owner, invitee.email).json()
    response = client.post(f"/v1/invitations/{invitation['id']}/reject", headers=_bare(invitee))
    assert response.status_code == 200
    assert response.json()["status"] == "REJECTED"
    denied = client.get(f"/v1/workspaces/{owner.workspace_id}", headers=invitee.headers)
    assert denied.status_code == 404
    accept = client.post(f"/v1/invitations/{invitation['id']}/accept", headers=_bare(invitee))
    assert accept.status_code == 409
    assert accept.json()["code"] == "invitation_not_pending"


def test_only_the_invited_user_can_answer(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    invitee = _invitee(db, owner)
    intruder = make_tenant(db)
    invitation = _invite(client, owner, invitee.email).json()
    for action in ("accept", "reject"):
        response = client.post(
            f"/v1/invitations/{invitation['id']}/{action}", headers=intruder.headers
        )
        assert response.status_code == 404
        assert response.json()["code"] == "invitation_not_found"
    # Even the inviting owner cannot answer for the invitee.
    response = client.post(f"/v1/invitations/{invitation['id']}/accept", headers=owner.headers)
    assert response.status_code == 404
    assert client.get("/v1/invitations", headers=intruder.headers).json()["items"] == []
    assert [i["status"] for i in _invitations(client, owner)] == ["PENDING"]


def test_an_expired_invitation_cannot_be_accepted(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    invitee = _invitee(db, owner)
    invitation = _invite(client, owner, invitee.email).json()
    clock.advance(7 * 86400 + 1)
    assert client.get("/v1/invitations", headers=_bare(invitee)).json()["items"] == []
    response = client.post(f"/v1/invitations/{invitation['id']}/accept", headers=_bare(invitee))
    assert response.status_code == 409
    assert response.json()["code"] == "invitation_expired"
    denied = client.get(f"/v1/workspaces/{owner.workspace_id}", headers=invitee.headers)
    assert denied.status_code == 404


def test_an_invitation_is_still_valid_just_before_expiry(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    invitee = _invitee(db, owner)
    invitation = _invite(client, owner, invitee.email).json()
    clock.advance(7 * 86400 - 60)
    response = client.post(f"/v1/invitations/{invitation['id']}/accept", headers=_bare(invitee))
    assert response.status_code == 200, response.text


def test_the_owner_invites_and_revokes(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    invitee = _invitee(db, owner)
    invitation = _invite(client, owner, invitee.email, "VIEWER").json()
    path = f"/v1/workspaces/{owner.workspace_id}/invitations/{invitation['id']}"
    response = client.delete(path, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "REVOKED"
    again = client.delete(path, headers=owner.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "invitation_not_pending"
    accept = client.post(f"/v1/invitations/{invitation['id']}/accept", headers=_bare(invitee))
    assert accept.status_code == 409
    assert accept.json()["code"] == "invitation_not_pending"
    assert [i["status"] for i in _invitations(client, owner)] == ["REVOKED"]


def test_revoking_another_workspaces_invitation_is_404(db: Database, client: TestClient) -> None:
    owner, other = make_tenant(db), make_tenant(db)
    invitation = _invite(client, other, "someone@example.com").json()
    response = client.delete(
        f"/v1/workspaces/{owner.workspace_id}/invitations/{invitation['id']}",
        headers=owner.headers,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "invitation_not_found"
    assert [i["status"] for i in _invitations(client, other)] == ["PENDING"]


def test_an_admin_cannot_invite_an_owner(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    admin = make_member(db, owner, Role.ADMIN)
    response = _invite(client, admin, "boss@example.com", "OWNER")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert _invitations(client, owner) == []


def test_an_owner_invites_an_owner(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    invitee = _invitee(db, owner)
    invitation = _invite(client, owner, invitee.email, "OWNER").json()
    client.post(f"/v1/invitations/{invitation['id']}/accept", headers=_bare(invitee))
    workspace = client.get(f"/v1/workspaces/{owner.workspace_id}", headers=invitee.headers)
    assert workspace.json()["role"] == "OWNER"


def test_an_admin_cannot_invite_even_a_viewer(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    admin = make_member(db, owner, Role.ADMIN)
    response = _invite(client, admin, "friend@example.com", "VIEWER")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert _invitations(client, owner) == []


def test_an_editor_cannot_invite(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    editor = make_member(db, owner, Role.EDITOR)
    response = _invite(client, editor, "friend@example.com", "VIEWER")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert _invitations(client, owner) == []


def test_a_second_pending_invitation_for_an_email_is_refused(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    assert _invite(client, owner, "twice@example.com").status_code == 201
    response = _invite(client, owner, "Twice@Example.com")
    assert response.status_code == 409
    assert response.json()["code"] == "invitation_pending"
    assert len(_invitations(client, owner)) == 1


def test_an_expired_invitation_does_not_block_a_new_one(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    _invite(client, owner, "late@example.com")
    clock.advance(8 * 86400)
    assert _invite(client, owner, "late@example.com").status_code == 201


def test_inviting_a_member_is_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    response = _invite(client, owner, viewer.email)
    assert response.status_code == 409
    assert response.json()["code"] == "already_member"
    assert _invitations(client, owner) == []


def test_an_invalid_email_is_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    for email in ("no-at-sign", "two@@example.com", "space in@example.com", ""):
        response = _invite(client, owner, email)
        assert response.status_code == 422, email
        assert response.json()["code"] == "validation_error"
    assert _invitations(client, owner) == []


def test_every_step_leaves_an_audit_event(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    invitee = _invitee(db, owner)
    invitation = _invite(client, owner, invitee.email, "ADMIN").json()
    client.post(f"/v1/invitations/{invitation['id']}/accept", headers=_bare(invitee))
    client.patch(
        f"/v1/workspaces/{owner.workspace_id}/members/{invitee.user_id}",
        json={"role": "EDITOR"},
        headers=owner.headers,
    )
    client.patch(
        f"/v1/workspaces/{owner.workspace_id}", json={"name": "Audited"}, headers=owner.headers
    )
    with db.transaction(write=False) as session:
        types = session.scalars(
            select(Event.type)
            .where(Event.workspace_id == owner.workspace_id)
            .order_by(Event.created_at, Event.id)
        ).all()
    assert types == [
        "workspace.created",
        "invitation.created",
        "member.joined",
        "invitation.accepted",
        "member.role_changed",
        "workspace.renamed",
    ]
