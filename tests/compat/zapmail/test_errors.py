"""Every error under /zapmail renders in Zapmail's envelope, never as native problem details;
the document's rate limits count apart from the other surfaces'."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from mailfleet.db import Database
from tests.factories import make_tenant

API = "/zapmail/api"


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert list(body) == ["status", "message", "data", "code", "field"]
    assert body["status"] == status
    assert body["data"] is None
    assert body["code"] == code
    assert body["message"]
    return body


def test_no_or_a_bad_key_is_401(client: TestClient) -> None:
    assert_envelope(client.get(f"{API}/v2/users"), 401, "missing_credentials")
    bad = client.get(f"{API}/v2/users", headers={"x-auth-zapmail": "mf_nope"})
    assert_envelope(bad, 401, "invalid_api_key")


def test_unknown_routes_and_methods(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    headers = owner.zapmail_headers
    assert_envelope(client.get(f"{API}/v2/nothing-here", headers=headers), 404, "not_found")
    assert_envelope(client.get("/zapmail/elsewhere", headers=headers), 404, "not_found")
    assert_envelope(client.delete(f"{API}/v2/users", headers=headers), 405, "method_not_allowed")


def test_another_users_workspace_is_not_found(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    stranger = make_tenant(db)
    response = client.get(
        f"{API}/v2/users",
        headers={**owner.zapmail_headers, "x-workspace-key": str(stranger.workspace_id)},
    )
    assert assert_envelope(response, 404, "workspace_not_found")["field"] == "x-workspace-key"


def test_without_x_workspace_key_the_first_workspace_is_used(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    response = client.get(f"{API}/v2/users", headers={"x-auth-zapmail": owner.token})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == str(owner.user_id)


def test_a_bad_x_service_provider_is_422(db: Database, client: TestClient) -> None:
    """Any route taking the header checks it (the users route does not take it: the
    document lists it on mailbox and domain routes); documented as GOOGLE or MICROSOFT."""
    owner = make_tenant(db)
    document = client.get("/zapmail/openapi.json").json()
    taking = [
        (path, method)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method == "get"
        and any(p["name"] == "x-service-provider" for p in operation.get("parameters", []))
        and "{" not in path
    ]
    for path, _ in taking:
        response = client.get(
            path, headers={**owner.zapmail_headers, "x-service-provider": "YAHOO"}
        )
        assert_envelope(response, 422, "validation_error")


def test_rate_limit_is_the_documented_429_body(db: Database, make_client: Any) -> None:
    client = make_client(
        rate_limit_enabled=True,
        zapmail_rate_limit_per_second=0,
        zapmail_rate_limit_per_minute=3,
    )
    owner = make_tenant(db)
    for _ in range(3):
        assert client.get(f"{API}/v2/users", headers=owner.zapmail_headers).status_code == 200
    limited = client.get(f"{API}/v2/users", headers=owner.zapmail_headers)
    assert limited.status_code == 429
    assert limited.json() == {"status": 429, "message": "Too many requests"}
    # Zapmail's budget is its own: the same key still reaches the native API.
    assert client.get("/v1/account", headers=owner.headers).status_code == 200


def test_the_document_is_its_own(client: TestClient) -> None:
    document = client.get("/zapmail/openapi.json").json()
    assert document["info"]["title"] == "Zapmail API (Mailfleet)"
    assert all(path.startswith("/zapmail/api/v") for path in document["paths"])
    assert "Error" in document["components"]["schemas"]
    native = client.get("/openapi.json").json()
    assert not any(p.startswith("/zapmail") for p in native["paths"])
    docs = client.get("/zapmail/docs")
    assert docs.status_code == 200
    assert "/zapmail/openapi.json" in docs.text
