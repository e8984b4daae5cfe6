"""The webhooks page: endpoints listed without their secrets, one registered through the
service of POST /v1/webhooks with its secret shown on the answer page only, disabled, enabled
and deleted; per endpoint its delivery log with "Resend". The writes need ADMIN as on
/v1/webhooks; a VIEWER reads only, and another workspace's endpoint is 404."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import DeliveryStatus, Event, Role, WebhookDelivery, WebhookEndpoint
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.factories import Caller, count_rows, make_member, make_tenant, make_webhook

_SECRET = re.compile(r'<section class="card" id="created-webhook">.*?data-copy="([^"]+)"', re.S)
URL = "https://hooks.example.com/mailfleet"


def _post(client: TestClient, path: str, **fields: str) -> Any:
    token = csrf_of(client.get("/console/webhooks").text)
    return client.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)


def _create(client: TestClient, url: str = URL, *events: str) -> Any:
    chosen = events or ("domain.status_changed", "export.completed")
    return _post(client, "/console/webhooks", url=url, **{f"event:{e}": "1" for e in chosen})


def _section(html: str, table_id: str) -> str:
    return html.split(f'<table id="{table_id}">')[1].split("</table>")[0]


def _stored(db: Database) -> WebhookEndpoint:
    with db.transaction(write=False) as session:
        endpoint = session.scalars(select(WebhookEndpoint)).one()
        session.expunge(endpoint)
        return endpoint


def test_a_registered_endpoint_shows_its_secret_once(
    console: TestClient, owner: Caller, db: Database
) -> None:
    answer = _create(console)
    assert answer.status_code == 201
    found = _SECRET.search(answer.text)
    assert found, "the answer page shows the signing secret"
    secret = found.group(1)
    assert secret.startswith("whsec_")
    assert "shown this once" in answer.text
    stored = _stored(db)
    assert SecretBox.from_settings(db.settings).decrypt(stored.secret_enc) == secret
    assert stored.events == ["domain.status_changed", "export.completed"]
    # The API's endpoint, listed from now on without its secret.
    api = console.get("/v1/webhooks", headers=owner.headers).json()["items"]
    assert [w["url"] for w in api] == [URL]
    html = console.get("/console/webhooks").text
    assert 'href="/console/webhooks"' in html  # in the navigation
    row = _section(html, "webhook-list")
    assert f'<a href="/console/webhooks/{stored.id}">{URL}</a>' in row
    assert "<td>domain.status_changed, export.completed</td>" in row
    assert '<td class="status">enabled</td>' in row
    assert secret not in html
    assert secret not in console.get(f"/console/webhooks/{stored.id}").text
    assert count_rows(db, Event, type="webhook.created") == 1


def test_a_refused_endpoint_comes_back_with_the_reason_and_creates_nothing(
    console: TestClient, db: Database
) -> None:
    # The service's rule: public addresses only.
    answer = _create(console, "http://127.0.0.1/hook", "order.status_changed")
    assert answer.status_code == 422
    error = answer.text.split('id="webhook-error">')[1].split("</p>")[0]
    assert "public addresses only" in error
    assert 'value="http://127.0.0.1/hook"' in answer.text  # as typed
    assert 'name="event:order.status_changed" value="1" checked' in answer.text
    assert 'id="created-webhook"' not in answer.text
    # The API's schema: at least one event, an http(s) URL.
    no_events = _post(console, "/console/webhooks", url=URL)
    assert no_events.status_code == 422
    assert "Pick at least one event." in no_events.text
    assert _create(console, "ftp://hooks.example.com/x").status_code == 422
    assert count_rows(db, WebhookEndpoint) == 0


def test_disable_enable_and_delete(console: TestClient, owner: Caller, db: Database) -> None:
    webhook_id, _ = make_webhook(db, owner.workspace_id)
    answer = _post(console, f"/console/webhooks/{webhook_id}/disable", back="list")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/webhooks"
    assert _stored(db).enabled is False
    row = _section(console.get("/console/webhooks").text, "webhook-list")
    assert '<td class="status">disabled</td>' in row
    assert f'action="/console/webhooks/{webhook_id}/enable"' in row
    answer = _post(console, f"/console/webhooks/{webhook_id}/enable")
    assert answer.headers["location"] == f"/console/webhooks/{webhook_id}"
    assert _stored(db).enabled is True
    assert count_rows(db, Event, type="webhook.updated") == 2
    answer = _post(console, f"/console/webhooks/{webhook_id}/delete")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/webhooks"
    assert count_rows(db, WebhookEndpoint) == 0
    assert count_rows(db, WebhookDelivery) == 0
    assert count_rows(db, Event, type="webhook.deleted") == 1
    assert "No webhook endpoints yet." in console.get("/console/webhooks").text


def test_rotating_shows_the_new_secret_once_and_the_old_one_still_signs(
    console: TestClient, owner: Caller, db: Database
) -> None:
    old = _SECRET.search(_create(console).text)
    assert old
    webhook_id = _stored(db).id
    answer = _post(console, f"/console/webhooks/{webhook_id}/rotate")
    assert answer.status_code == 200, answer.text
    found = re.search(
        r'<section class="card" id="rotated-secret">.*?data-copy="([^"]+)"', answer.text, re.S
    )
    assert found
    new = found.group(1)
    assert new.startswith("whsec_")
    assert new != old.group(1)
    assert answer.headers["cache-control"] == "no-store"
    stored = _stored(db)
    box = SecretBox.from_settings(db.settings)
    assert box.decrypt(stored.secret_enc) == new
    assert stored.previous_secret_enc is not None
    assert box.decrypt(stored.previous_secret_enc) == old.group(1)
    assert new not in console.get(f"/console/webhooks/{webhook_id}").text


def test_the_delivery_log_and_resend(console: TestClient, owner: Caller, db: Database) -> None:
    webhook_id, delivery_id = make_webhook(db, owner.workspace_id)
    with db.transaction() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        delivery.last_error = "connection refused"
    html = console.get(f"/console/webhooks/{webhook_id}").text
    row = _section(html, "delivery-list").split(f'data-delivery="{delivery_id}"')[1]
    row = row.split("</tr>")[0]
    assert "<td>domain.status_changed</td>" in row
    assert '<td class="status">FAILED</td>' in row
    assert "<td>1</td>" in row  # attempts
    assert "<td>connection refused</td>" in row
    path = f"/console/webhooks/{webhook_id}/deliveries/{delivery_id}/resend"
    assert f'action="{path}"' in row
    answer = _post(console, path)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/webhooks/{webhook_id}"
    with db.transaction(write=False) as session:
        resent = session.get(WebhookDelivery, delivery_id)
        assert resent is not None
        assert resent.status == DeliveryStatus.PENDING
    assert count_rows(db, Event, type="webhook.delivery_resent") == 1
    # The API's rule: a delivery under way is not resent; the reason is on the page.
    again = _post(console, path)
    assert again.status_code == 409
    assert "still being attempted" in again.text.split('id="webhook-error">')[1]
    assert count_rows(db, Event, type="webhook.delivery_resent") == 1
    assert "under way" in _section(again.text, "delivery-list")
    missing = _post(console, f"/console/webhooks/{webhook_id}/deliveries/{uuid.uuid4()}/resend")
    assert missing.status_code == 404
    assert "webhook_delivery_not_found" in missing.text


def test_a_disabled_endpoint_is_not_resent(
    console: TestClient, owner: Caller, db: Database
) -> None:
    webhook_id, delivery_id = make_webhook(db, owner.workspace_id)
    _post(console, f"/console/webhooks/{webhook_id}/disable")
    answer = _post(console, f"/console/webhooks/{webhook_id}/deliveries/{delivery_id}/resend")
    assert answer.status_code == 409
    assert "enable it before resending" in answer.text


def test_a_viewer_sees_the_lists_but_cannot_change_anything(
    client: TestClient, owner: Caller, db: Database
) -> None:
    webhook_id, delivery_id = make_webhook(db, owner.workspace_id)
    viewer = make_member(db, owner, Role.VIEWER)
    set_password(db, viewer.user_id)
    token = sign_in(client, viewer.email)
    for path in ("/console/webhooks", f"/console/webhooks/{webhook_id}"):
        html = client.get(path).text
        assert "http://127.0.0.1:9/hook" in html
        assert 'method="post"' not in html.split("<main")[1]
    assert '<td class="status">FAILED</td>' in client.get(f"/console/webhooks/{webhook_id}").text
    for path in (
        "/console/webhooks",
        f"/console/webhooks/{webhook_id}/disable",
        f"/console/webhooks/{webhook_id}/rotate",
        f"/console/webhooks/{webhook_id}/delete",
        f"/console/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
    ):
        refused = client.post(
            path, data={"csrf_token": token, "url": URL, "event:export.completed": "1"}
        )
        assert refused.status_code == 403, path
        assert "insufficient_role" in refused.text
    assert count_rows(db, WebhookEndpoint) == 1
    assert _stored(db).enabled is True


def test_an_editor_is_refused_as_on_the_api(
    client: TestClient, owner: Caller, db: Database
) -> None:
    editor = make_member(db, owner, Role.EDITOR)
    set_password(db, editor.user_id)
    sign_in(client, editor.email)
    assert 'id="create-webhook"' not in client.get("/console/webhooks").text
    refused = _create(client)
    assert refused.status_code == 403
    assert "insufficient_role" in refused.text
    api = client.post(
        "/v1/webhooks", json={"url": URL, "events": ["export.completed"]}, headers=editor.headers
    )
    assert api.status_code == 403
    assert count_rows(db, WebhookEndpoint) == 0


def test_another_workspaces_endpoint_is_not_found(console: TestClient, db: Database) -> None:
    stranger = make_tenant(db)
    webhook_id, delivery_id = make_webhook(db, stranger.workspace_id, url="http://10.0.0.9/x")
    answer = console.get(f"/console/webhooks/{webhook_id}")
    assert answer.status_code == 404
    assert "webhook_not_found" in answer.text
    assert console.get("/console/webhooks/not-an-id").status_code == 404
    for path in (
        f"/console/webhooks/{webhook_id}/disable",
        f"/console/webhooks/{webhook_id}/rotate",
        f"/console/webhooks/{webhook_id}/delete",
        f"/console/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
    ):
        assert _post(console, path).status_code == 404, path
    assert "10.0.0.9" not in console.get("/console/webhooks").text
    assert count_rows(db, WebhookEndpoint) == 1
    assert count_rows(db, Event, type="webhook.delivery_resent") == 0
