"""Only a workspace's OWNERs manage its members and invitations, on every such route.

The routes come from the app's own route table (its OpenAPI document), so a member or invitation
route added later is covered without editing this file: called as ADMIN, EDITOR or VIEWER it
answers 403, as OWNER it does what it says. Leaving a workspace yourself stays open to every member.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Role
from tests.factories import Caller, make_member, make_tenant

PREFIX = "/v1/workspaces/{workspace_id}/"
# A valid body for the routes that take one, so that a 403 comes from the role check, not from
# validation running first.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", PREFIX + "invitations"): {"email": "newcomer@example.com", "role": "VIEWER"},
    ("PATCH", PREFIX + "members/{user_id}"): {"role": "EDITOR"},
}


def management_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route under a workspace that touches members or invitations.

    Read from the app's OpenAPI document, its route table as clients see it."""
    paths = client.get("/openapi.json").json()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.removeprefix(PREFIX).startswith(("members", "invitations"))
        and path.startswith(PREFIX)
        for method in operations
    )


class Team:
    """An owner's workspace with one member of each lower role, a spare member and an invitation."""

    def __init__(self, db: Database, client: TestClient) -> None:
        self.owner = make_tenant(db)
        self.members = {role: make_member(db, self.owner, role) for role in LOWER_ROLES}
        self.spare = make_member(db, self.owner, Role.VIEWER)
        invited = client.post(
            f"/v1/workspaces/{self.owner.workspace_id}/invitations",
            json={"email": "invited@example.com", "role": "EDITOR"},
            headers=self.owner.headers,
        )
        assert invited.status_code == 201, invited.text
        self.invitation_id = uuid.UUID(invited.json()["id"])

    def path(self, template: str) -> str:
        return template.format(
            workspace_id=self.owner.workspace_id,
            user_id=self.spare.user_id,
            invitation_id=self.invitation_id,
        )


LOWER_ROLES = (Role.ADMIN, Role.EDITOR, Role.VIEWER)


def call(client: TestClient, caller: Caller, method: str, path: str, body: Any) -> Any:
    return client.request(method, path, json=body, headers=caller.headers)


def test_the_route_table_has_the_member_and_invitation_routes(client: TestClient) -> None:
    routes = management_routes(client)
    assert ("POST", PREFIX + "invitations") in routes
    assert ("DELETE", PREFIX + "invitations/{invitation_id}") in routes
    assert ("GET", PREFIX + "members") in routes
    assert ("PATCH", PREFIX + "members/{user_id}") in routes
    assert ("DELETE", PREFIX + "members/{user_id}") in routes


@pytest.mark.parametrize("role", LOWER_ROLES, ids=lambda r: r.value)
def test_below_owner_every_member_and_invitation_route_is_refused(
    db: Database, client: TestClient, role: Role
) -> None:
    team = Team(db, client)
    caller = team.members[role]
    for method, template in management_routes(client):
        body = BODIES.get((method, template))
        response = call(client, caller, method, team.path(template), body)
        assert response.status_code == 403, (method, template, response.text)
        assert response.json()["code"] == "insufficient_role", (method, template)
    # Nothing changed: the spare member, their role and the invitation are as they were.
    members = client.get(
        f"/v1/workspaces/{team.owner.workspace_id}/members", headers=team.owner.headers
    ).json()["items"]
    assert {m["user_id"]: m["role"] for m in members}[str(team.spare.user_id)] == "VIEWER"
    invitations = client.get(
        f"/v1/workspaces/{team.owner.workspace_id}/invitations", headers=team.owner.headers
    ).json()["items"]
    assert [(i["email"], i["status"]) for i in invitations] == [("invited@example.com", "PENDING")]


def test_the_owner_may_use_every_member_and_invitation_route(
    db: Database, client: TestClient
) -> None:
    team = Team(db, client)
    # Deletions last, so that each route still finds what it acts on.
    routes = sorted(management_routes(client), key=lambda r: r[0] == "DELETE")
    for method, template in routes:
        body = BODIES.get((method, template))
        response = call(client, team.owner, method, team.path(template), body)
        assert response.status_code in (200, 201), (method, template, response.text)


@pytest.mark.parametrize("role", LOWER_ROLES, ids=lambda r: r.value)
def test_any_member_may_still_leave(db: Database, client: TestClient, role: Role) -> None:
    team = Team(db, client)
    leaving = team.members[role]
    path = f"/v1/workspaces/{team.owner.workspace_id}/members/{leaving.user_id}"
    response = client.delete(path, headers=leaving.headers)
    assert response.status_code == 200, response.text
    gone = client.get(f"/v1/workspaces/{team.owner.workspace_id}", headers=leaving.headers)
    assert gone.status_code == 404
