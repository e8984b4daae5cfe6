"""Every error under /inboxedup renders in its envelope, never as native problem details."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import MailboxType
from tests.factories import give_slots, make_domain, make_tenant

API = "/inboxedup"


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code
    return body


def test_no_or_a_bad_token_is_401(db: Database, client: TestClient) -> None:
    assert_envelope(client.get(f"{API}/account"), 401, "missing_credentials")
    bad = client.get(f"{API}/account", headers={"Authorization": "Bearer mf_nope"})
    assert_envelope(bad, 401, "invalid_api_key")


def test_unknown_routes_methods_and_bodies(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    assert_envelope(client.get(f"{API}/nothing-here", headers=owner.headers), 404, "not_found")
    assert_envelope(client.put(f"{API}/account", headers=owner.headers), 405, "method_not_allowed")
    broken = client.post(
        f"{API}/domains",
        content=b"{not json",
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert_envelope(broken, 400, "malformed_json")
    missing = client.post(f"{API}/domains", json={}, headers=owner.headers)
    assert assert_envelope(missing, 400, "validation_error")["error"]["field"] == "domains"
    unknown_id = client.get(f"{API}/domains/req_{'0' * 32}", headers=owner.headers)
    assert_envelope(unknown_id, 404, "domain_not_found")
    assert_envelope(
        client.get(f"{API}/mailboxes/nonsense", headers=owner.headers),
        404,
        "mailbox_order_not_found",
    )


def test_a_viewer_is_403(db: Database, client: TestClient) -> None:
    from mailfleet.models import Role
    from tests.factories import make_member

    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    refused = client.post(f"{API}/domains", json={"domains": ["v.com"]}, headers=viewer.headers)
    assert_envelope(refused, 403, "insufficient_role")
    assert client.get(f"{API}/domains", headers=viewer.headers).status_code == 200


def test_rate_limit_is_429_with_retry_after(db: Database, make_client: Any) -> None:
    client = make_client(rate_limit_enabled=True, rate_limit_per_second=0, rate_limit_per_minute=2)
    owner = make_tenant(db)
    for _ in range(2):
        assert client.get(f"{API}/account", headers=owner.headers).status_code == 200
    limited = client.get(f"{API}/account", headers=owner.headers)
    assert_envelope(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    # One budget per key across surfaces: the native API is limited too.
    assert client.get("/v1/account", headers=owner.headers).status_code == 429


def test_idempotency_key_replays_and_conflicts_in_the_envelope(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 5)
    headers = {**owner.headers, "Idempotency-Key": "retry-1"}
    body = {
        "domain": domain.name,
        "type": "smtp",
        "mailboxes": [{"firstName": "A", "lastName": "B", "mailboxUsername": "once"}],
    }
    first = client.post(f"{API}/mailboxes", json=body, headers=headers)
    again = client.post(f"{API}/mailboxes", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["requestId"] == again.json()["requestId"]
    other = client.post(f"{API}/mailboxes", json={**body, "type": "SMTP"}, headers=headers)
    assert_envelope(other, 422, "idempotency_key_reused")


def test_too_large_a_body_is_413(db: Database, make_client: Any) -> None:
    client = make_client(max_request_body_bytes=1024, max_bulk_request_body_bytes=2048)
    owner = make_tenant(db)
    names = [f"name{i}.com" for i in range(400)]
    response = client.post(f"{API}/domains", json={"domains": names}, headers=owner.headers)
    assert_envelope(response, 413, "request_too_large")


def test_the_document_is_its_own(client: TestClient) -> None:
    document = client.get(f"{API}/openapi.json").json()
    assert document["info"]["title"] == "InboxedUp API (Mailfleet)"
    paths = set(document["paths"])
    assert {
        "/inboxedup/account",
        "/inboxedup/subscriptions",
        "/inboxedup/subscriptions/{subscriptionId}",
        "/inboxedup/domains",
        "/inboxedup/domains/{domainId}",
        "/inboxedup/domains/{domainId}/verify",
        "/inboxedup/domains/batch/{batchId}",
        "/inboxedup/mailboxes",
        "/inboxedup/mailboxes/{requestId}",
    } == paths
    schemas = document["components"]["schemas"]
    assert {"Error", "MailboxEntry"} <= set(schemas)
    assert set(schemas["MailboxEntry"]["properties"]) == {
        "firstName",
        "lastName",
        "mailboxUsername",
    }
    native = client.get("/openapi.json").json()
    assert not any(p.startswith("/inboxedup") for p in native["paths"])
    create = document["paths"]["/inboxedup/mailboxes"]["post"]
    assert {"201", "400", "401", "403", "404", "422"} <= set(create["responses"])
    assert "quota_exceeded" in create["responses"]["403"]["description"]
    assert "domain_mailbox_limit" in create["responses"]["422"]["description"]
    docs = client.get(f"{API}/docs")
    assert docs.status_code == 200
    assert "/inboxedup/openapi.json" in docs.text


def test_list_filters_check_their_ids(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    bad = client.get(f"{API}/mailboxes?domainId=nonsense", headers=owner.headers)
    assert assert_envelope(bad, 400, "validation_error")["error"]["field"] == "domainId"
    unknown = client.get(f"{API}/mailboxes?domainId=dom_{'1' * 32}", headers=owner.headers)
    assert unknown.status_code == 200
    assert unknown.json()["data"] == []
