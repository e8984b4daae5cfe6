from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxStatus, MailboxType, OrderStatus, Role
from tests.factories import (
    Caller,
    give_slots,
    make_domain,
    make_key,
    make_mailbox,
    make_member,
    make_order,
    make_tenant,
    make_user,
)


def test_overview_counts_the_request_workspace(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 2)
    active = make_domain(db, owner.workspace_id, status=DomainStatus.ACTIVE)
    make_domain(db, owner.workspace_id, status=DomainStatus.ACTIVE)
    make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    make_domain(db, owner.workspace_id, status=DomainStatus.REMOVED)
    make_mailbox(db, active, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, active, mailbox_type=MailboxType.GOOGLE, status=MailboxStatus.FAILED)
    make_order(db, owner.workspace_id, active.id, status=OrderStatus.PENDING)
    make_order(db, owner.workspace_id, active.id, status=OrderStatus.IN_PROGRESS)
    make_order(db, owner.workspace_id, active.id, status=OrderStatus.COMPLETED)
    make_key(db, owner.user_id)
    revoked = client.post("/v1/api-keys", json={"name": "gone"}, headers=owner.headers).json()
    client.delete(f"/v1/api-keys/{revoked['id']}", headers=owner.headers)
    # Another tenant's rows never count.
    other = make_tenant(db)
    make_domain(db, other.workspace_id)
    give_slots(db, other.workspace_id, MailboxType.GOOGLE, 99)

    response = client.get("/v1/account", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {
        "id": str(owner.user_id),
        "email": owner.email,
        "name": "Owner",
        "is_operator": False,
    }
    assert body["workspace"]["id"] == str(owner.workspace_id)
    assert body["workspace"]["role"] == "OWNER"
    assert [w["id"] for w in body["workspaces"]] == [str(owner.workspace_id)]
    assert body["allocations"] == {
        "GOOGLE": {"allocated": 10, "used": 1, "remaining": 9},
        "MICROSOFT": {"allocated": 0, "used": 0, "remaining": 0},
        "SMTP": {"allocated": 2, "used": 0, "remaining": 2},
        "SMTP_DEDICATED": {"allocated": 0, "used": 0, "remaining": 0},
    }
    assert body["summary"] == {
        "domains": 3,
        "active_domains": 2,
        "pending_orders": 2,
        "active_api_keys": 2,
    }


def test_overview_follows_the_workspace_header(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    own = client.post("/v1/workspaces", json={"name": "Mine"}, headers=viewer.headers).json()
    make_domain(db, owner.workspace_id)
    stranger = make_tenant(db)

    shared = client.get("/v1/account", headers=viewer.headers).json()
    assert shared["workspace"]["id"] == str(owner.workspace_id)
    assert shared["workspace"]["role"] == "VIEWER"
    assert shared["summary"]["domains"] == 1
    assert {w["id"]: w["role"] for w in shared["workspaces"]} == {
        str(owner.workspace_id): "VIEWER",
        own["id"]: "OWNER",
    }
    assert str(stranger.workspace_id) not in {w["id"] for w in shared["workspaces"]}

    mine = Caller(viewer.user_id, viewer.email, viewer.token, uuid.UUID(own["id"]))
    body = client.get("/v1/account", headers=mine.headers).json()
    assert body["workspace"] == {"id": own["id"], "name": "Mine", "role": "OWNER"}
    assert body["summary"]["domains"] == 0


def test_overview_of_a_user_without_workspace(db: Database, client: TestClient) -> None:
    user = make_user(db)
    token = make_key(db, user.id)
    response = client.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["workspaces"] == []
    assert body["workspace"] is None
    assert body["allocations"] == {}
    assert body["summary"] == {
        "domains": 0,
        "active_domains": 0,
        "pending_orders": 0,
        "active_api_keys": 1,
    }


def test_overview_needs_a_key(db: Database, client: TestClient) -> None:
    response = client.get("/v1/account")
    assert response.status_code == 401
    assert response.json()["code"] == "missing_credentials"
    response = client.get("/v1/account", headers={"Authorization": "Bearer mf_nope_nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
