"""GET /v2/users (and v1 /user/details) against /zapmail/api."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import MailboxType
from tests.factories import fund_wallet, give_slots, make_tenant

API = "/zapmail/api"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.mark.parametrize("path", ["/v2/users", "/v1/user/details"])
def test_user_details_have_the_documented_fields(
    db: Database, client: TestClient, path: str
) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 12)
    give_slots(db, owner.workspace_id, MailboxType.MICROSOFT, 3)
    fund_wallet(db, owner.workspace_id, 10050)

    response = client.get(f"{API}{path}", headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["status", "message", "data"]
    assert body["status"] == 200
    assert body["message"] == "User details fetched successfully"
    data = body["data"]
    assert list(data) == [
        "id",
        "email",
        "firstName",
        "lastName",
        "activePlan",
        "planEndsOn",
        "purchasedMailboxes",
        "assignedMailboxes",
        "userCreatedAt",
        "walletBalance",
    ]
    assert data["id"] == str(owner.user_id)
    assert data["email"] == owner.email
    assert data["purchasedMailboxes"] == 15
    assert data["assignedMailboxes"] == 0
    assert data["walletBalance"] == 100.5
    assert data["activePlan"] is None
    assert ISO_MS.match(data["userCreatedAt"])


def test_without_a_key_answers_401_in_the_envelope(client: TestClient) -> None:
    response = client.get(f"{API}/v2/users")

    assert response.status_code == 401
    body = response.json()
    assert body["status"] == 401
    assert body["data"] is None
    assert body["code"] == "missing_credentials"
    assert "x-auth-zapmail" in body["message"]


def test_a_bearer_header_is_not_a_zapmail_key(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)

    response = client.get(f"{API}/v2/users", headers={"Authorization": f"Bearer {owner.token}"})

    assert response.status_code == 401


def test_unknown_route_and_bad_workspace_render_the_envelope(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)

    missing = client.get(f"{API}/v2/nothing-here", headers=owner.zapmail_headers)
    bad_workspace = client.get(
        f"{API}/v2/users", headers={**owner.zapmail_headers, "x-workspace-key": "not-a-uuid"}
    )

    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    assert bad_workspace.status_code == 400
    assert bad_workspace.json()["field"] == "x-workspace-key"
