"""A second surface built with the recipe answers in its own format under its own prefix.

Errors of every kind raised under /testsurface (validation, unknown route, 405, missing key,
rate limit, idempotency, body too large) come in its envelope, never as problem+json; the
native API's errors stay problem+json beside it. Both act on the same keys and workspaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from mailfleet.app import create_app
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.surfaces.native import native_surface
from tests.factories import Caller, make_tenant
from tests.surfaces.testsurface import (
    IDEMPOTENCY_HEADER,
    KEY_HEADER,
    PER_MINUTE,
    PREFIX,
    make_test_surface,
)

PROBLEM = "application/problem+json"


@pytest.fixture
def two(db: Database, make_settings: Callable[..., Settings]) -> TestClient:
    app = create_app(make_settings(), db, [native_surface(), make_test_surface()])
    return TestClient(app)


def _headers(caller: Caller, **extra: str) -> dict[str, str]:
    return {KEY_HEADER: caller.token, "x-test-workspace": str(caller.workspace_id), **extra}


def assert_envelope(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["ok"] is False
    assert body["error"]["code"] == code
    assert set(body) == {"ok", "error"}
    assert set(body["error"]) == {"code", "message"}
    return body


def assert_problem(response: Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code
    assert "ok" not in response.json()


def test_its_key_header_authenticates_the_same_keys(two: TestClient, db: Database) -> None:
    owner = make_tenant(db)
    response = two.get(f"{PREFIX}/whoami", headers=_headers(owner))
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "workspace": str(owner.workspace_id)}
    created = two.post(f"{PREFIX}/things", json={"name": "a", "size": 1}, headers=_headers(owner))
    assert created.status_code == 201
    assert created.json()["profile"] == "testsurface"


def test_a_missing_or_native_credential_is_refused_in_its_format(
    two: TestClient, db: Database
) -> None:
    owner = make_tenant(db)
    assert_envelope(two.get(f"{PREFIX}/whoami"), 401, "missing_credentials")
    # The native Bearer header means nothing here.
    assert_envelope(two.get(f"{PREFIX}/whoami", headers=owner.headers), 401, "missing_credentials")
    assert_envelope(
        two.get(f"{PREFIX}/whoami", headers={KEY_HEADER: "mf_nothing"}), 401, "invalid_api_key"
    )
    bad_workspace = {KEY_HEADER: owner.token, "x-test-workspace": "nope"}
    body = assert_envelope(
        two.get(f"{PREFIX}/whoami", headers=bad_workspace), 400, "invalid_workspace_id"
    )
    assert "x-test-workspace" in body["error"]["message"]


def test_validation_unknown_routes_and_methods_render_in_its_format(
    two: TestClient, db: Database
) -> None:
    owner = make_tenant(db)
    headers = _headers(owner)
    assert_envelope(
        two.post(f"{PREFIX}/things", json={"name": "a"}, headers=headers), 422, "validation_error"
    )
    assert_envelope(
        two.post(
            f"{PREFIX}/things",
            content=b"{not json",
            headers={**headers, "content-type": "application/json"},
        ),
        400,
        "malformed_json",
    )
    assert_envelope(two.get(f"{PREFIX}/no-such-route", headers=headers), 404, "not_found")
    assert_envelope(two.delete(f"{PREFIX}/whoami", headers=headers), 405, "method_not_allowed")
    too_big = b'{"name": "' + b"x" * 3_000_000 + b'"}'
    assert_envelope(
        two.post(f"{PREFIX}/things", content=too_big, headers=headers), 413, ("request_too_large")
    )


def test_an_unexpected_error_is_a_500_in_its_format(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    app = create_app(make_settings(), db, [native_surface(), make_test_surface()])
    quiet = TestClient(app, raise_server_exceptions=False)
    body = assert_envelope(quiet.get(f"{PREFIX}/boom"), 500, "internal_error")
    assert "bug" not in body["error"]["message"]


def test_its_rate_limit_is_its_own_and_renders_in_its_format(two: TestClient, db: Database) -> None:
    owner = make_tenant(db)
    for _ in range(PER_MINUTE):
        ok = two.get(f"{PREFIX}/whoami", headers=_headers(owner))
        assert ok.status_code == 200
        assert ok.headers["ratelimit-limit"] == str(PER_MINUTE)
    limited = two.get(f"{PREFIX}/whoami", headers=_headers(owner))
    assert_envelope(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    # The deployment's settings (no limit in the tests) still govern the native API.
    native = two.get("/v1/domains", headers=owner.headers)
    assert native.status_code == 200
    assert "ratelimit-limit" not in native.headers


def test_idempotency_uses_its_header_and_renders_conflicts_in_its_format(
    two: TestClient, db: Database
) -> None:
    owner = make_tenant(db)
    headers = _headers(owner, **{IDEMPOTENCY_HEADER: "k1"})
    first = two.post(f"{PREFIX}/things", json={"name": "a", "size": 1}, headers=headers)
    again = two.post(f"{PREFIX}/things", json={"name": "a", "size": 1}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["x-test-replayed"] == "true"
    assert again.content == first.content
    other = two.post(f"{PREFIX}/things", json={"name": "b", "size": 1}, headers=headers)
    assert_envelope(other, 422, "idempotency_key_reused")
    bad_key = _headers(owner, **{IDEMPOTENCY_HEADER: " "})
    assert_envelope(
        two.post(f"{PREFIX}/things", json={"name": "a", "size": 1}, headers=bad_key),
        400,
        "invalid_idempotency_key",
    )
    # The native header means nothing here: no replay.
    native_key = _headers(owner, **{"Idempotency-Key": "k2"})
    two.post(f"{PREFIX}/things", json={"name": "a", "size": 1}, headers=native_key)
    repeat = two.post(f"{PREFIX}/things", json={"name": "a", "size": 1}, headers=native_key)
    assert "x-test-replayed" not in repeat.headers
    assert "idempotency-replayed" not in repeat.headers


def test_native_errors_never_render_in_its_format(two: TestClient, db: Database) -> None:
    owner = make_tenant(db)
    assert_problem(two.get("/v1/domains"), 401, "missing_credentials")
    assert_problem(two.get("/v1/domains", headers=_headers(owner)), 401, "missing_credentials")
    assert_problem(two.get("/v1/no-such-route", headers=owner.headers), 404, "not_found")
    assert_problem(two.put("/v1/domains", headers=owner.headers), 405, "method_not_allowed")
    assert_problem(
        two.post("/v1/workspaces", json={}, headers=owner.headers), 422, "validation_error"
    )
    key = {**owner.headers, "Idempotency-Key": "n1"}
    assert two.post("/v1/workspaces", json={"name": "A"}, headers=key).status_code == 201
    reused = two.post("/v1/workspaces", json={"name": "B"}, headers=key)
    assert_problem(reused, 422, "idempotency_key_reused")
    assert_problem(two.get("/nowhere"), 404, "not_found")


def test_each_surface_has_its_own_openapi_document(two: TestClient) -> None:
    own = two.get(f"{PREFIX}/openapi.json").json()
    assert set(own["paths"]) == {f"{PREFIX}/whoami", f"{PREFIX}/things", f"{PREFIX}/boom"}
    assert own["info"]["title"] == "Test surface"
    errors = own["paths"][f"{PREFIX}/things"]["post"]["responses"]
    assert errors["429"]["content"]["application/json"]["schema"]["$ref"].endswith("/Envelope")
    native = two.get("/v1/openapi.json").json()
    assert "/v1/domains" in native["paths"]
    assert not any(path.startswith(PREFIX) for path in native["paths"])
    root = two.get("/openapi.json").json()
    assert "/health" in root["paths"]
    assert not any(path.startswith(PREFIX) for path in root["paths"])
    assert set(native["paths"]) <= set(root["paths"])
