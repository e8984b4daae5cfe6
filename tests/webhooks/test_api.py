"""Webhook endpoints API: registration, secrets, validation, roles."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Event, Role, WebhookEndpoint
from tests.factories import Caller, make_member, make_tenant

URL = "https://hooks.example.com/mailfleet"


def create(client: TestClient, caller: Caller, **body: Any) -> Any:
    return client.post(
        "/v1/webhooks",
        json={"url": URL, "events": ["domain.status_changed"], **body},
        headers=caller.headers,
    )


def test_create_shows_a_generated_secret_once_and_stores_it_encrypted(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    response = create(client, owner, events=["order.status_changed", "domain.status_changed"])
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert created["url"] == URL
    assert created["events"] == ["domain.status_changed", "order.status_changed"]
    assert created["enabled"] is True
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24

    shown = client.get(f"/v1/webhooks/{created['id']}", headers=owner.headers)
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    listed = client.get("/v1/webhooks", headers=owner.headers).json()
    assert [w["id"] for w in listed["items"]] == [created["id"]]
    assert secret not in str(listed)

    with db.transaction(write=False) as session:
        endpoint = session.scalars(select(WebhookEndpoint)).one()
        assert secret not in endpoint.secret_enc
        assert SecretBox.from_settings(db.settings).decrypt(endpoint.secret_enc) == secret
        audit = session.scalars(select(Event).where(Event.type == "webhook.created")).one()
        assert secret not in str(audit.data)
        assert "/mailfleet" not in str(audit.data)  # the path may hold a token: host only


def test_a_given_secret_is_kept(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    response = create(client, owner, secret=secret)
    assert response.status_code == 201, response.text
    assert response.json()["secret"] == secret


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"url": "ftp://hooks.example.com/x"}, "url", "url_scheme"),
        ({"url": "not a url"}, "url", "url_parsing"),
        ({"url": "https://"}, "url", "url_parsing"),
        ({"events": ["domain.created"]}, "events[0]", "enum"),
        ({"events": []}, "events", "too_short"),
        ({"events": None}, "events", "list_type"),
    ],
)
def test_invalid_bodies_are_refused_with_a_code_and_field(
    db: Database, client: TestClient, body: dict[str, Any], field: str, code: str
) -> None:
    owner = make_tenant(db)
    response = create(client, owner, **body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["field"] == field
    assert problem["errors"][0]["code"] == code


@pytest.mark.parametrize(
    "secret",
    ["no-prefix", "whsec_not*base64", "whsec_" + base64.b64encode(b"short").decode()],
)
def test_a_malformed_secret_is_refused(db: Database, client: TestClient, secret: str) -> None:
    owner = make_tenant(db)
    response = create(client, owner, secret=secret)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_webhook_secret"
    assert response.json()["field"] == "secret"
    assert secret not in response.text


def test_update_and_delete(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    webhook = create(client, owner).json()
    path = f"/v1/webhooks/{webhook['id']}"

    changed = client.patch(
        path,
        json={"url": "http://other.example.com/h", "events": ["mailbox.status_changed"]},
        headers=owner.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["url"] == "http://other.example.com/h"
    assert changed.json()["events"] == ["mailbox.status_changed"]

    disabled = client.patch(path, json={"enabled": False}, headers=owner.headers)
    assert disabled.json()["enabled"] is False
    assert disabled.json()["url"] == "http://other.example.com/h"

    null = client.patch(path, json={"url": None}, headers=owner.headers)
    assert null.status_code == 422
    assert (null.json()["code"], null.json()["field"]) == ("null_value", "url")
    empty = client.patch(path, json={"events": []}, headers=owner.headers)
    assert (empty.status_code, empty.json()["field"]) == (422, "events")

    deleted = client.delete(path, headers=owner.headers)
    assert deleted.json() == {"id": webhook["id"], "deleted": True}
    gone = client.get(path, headers=owner.headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == "webhook_not_found"


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_a_while(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    webhook = create(client, owner).json()
    rotated = client.post(
        f"/v1/webhooks/{webhook['id']}/rotate-secret", json={}, headers=owner.headers
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    assert rotated.json()["secret"] != webhook["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None


def test_a_viewer_reads_but_only_an_admin_manages(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    webhook = create(client, owner).json()
    viewer = make_member(db, owner, Role.VIEWER)
    editor = make_member(db, owner, Role.EDITOR)
    admin = make_member(db, owner, Role.ADMIN)

    assert client.get("/v1/webhooks", headers=viewer.headers).status_code == 200
    deliveries = client.get(f"/v1/webhooks/{webhook['id']}/deliveries", headers=viewer.headers)
    assert deliveries.status_code == 200
    for caller in (viewer, editor):
        refused = create(client, caller)
        assert refused.status_code == 403
        assert refused.json()["code"] == "insufficient_role"
    assert create(client, admin).status_code == 201
