"""HTTP hardening over a real uvicorn server: error answers keep the connection, idempotency
outcomes are stored before the response leaves."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from mailfleet.app import create_app
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.responses import SECRET_FIELDS
from mailfleet.models import Domain, Mailbox
from tests.factories import count_rows, make_domain, make_mailbox, make_tenant, make_webhook
from tests.support.servers import free_port

broken = APIRouter()


@broken.get("/broken")
def raise_on_get() -> None:
    raise RuntimeError("a bug in a route")


@broken.post("/v1/broken")
def raise_on_post() -> None:
    raise RuntimeError("a bug in a write route")


@contextmanager
def serving(app: FastAPI) -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live(db: Database, make_settings: Callable[..., Settings]) -> Iterator[int]:
    app = create_app(make_settings(), db)
    app.include_router(broken)
    with serving(app) as port:
        yield port


def _request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    *,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    payload = None if body is None else json.dumps(body).encode()
    all_headers = {**(headers or {}), "Content-Type": "application/json"}
    conn.request(method, path, body=payload, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def test_a_500_is_problem_json_and_the_connection_stays_usable(
    live: int, caplog: pytest.LogCaptureFixture
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", live, timeout=10)
    with caplog.at_level(logging.ERROR, logger="mailfleet.errors"):
        status, headers, body = _request(conn, "GET", "/broken")
    assert status == 500
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["code"] == "internal_error"
    assert "close" not in headers.get("connection", "")
    socket_before = conn.sock
    status, _, body = _request(conn, "GET", "/health")
    assert status == 200
    assert conn.sock is socket_before  # the same keep-alive connection, not a reconnect
    # Logged with its traceback.
    assert any(r.exc_info and "a bug in a route" in str(r.exc_info[1]) for r in caplog.records)
    conn.close()


def test_a_500_releases_the_idempotency_key(db: Database, live: int) -> None:
    owner = make_tenant(db)
    conn = http.client.HTTPConnection("127.0.0.1", live, timeout=10)
    headers = {**owner.headers, "Idempotency-Key": "fails"}
    first, _, _ = _request(conn, "POST", "/v1/broken", body={}, headers=headers)
    second, second_headers, _ = _request(conn, "POST", "/v1/broken", body={}, headers=headers)
    assert first == second == 500
    assert "idempotency-replayed" not in second_headers
    conn.close()


def test_a_replay_right_after_the_response_is_never_in_progress(db: Database, live: int) -> None:
    owner = make_tenant(db)
    conn = http.client.HTTPConnection("127.0.0.1", live, timeout=10)
    replay = http.client.HTTPConnection("127.0.0.1", live, timeout=10)
    for attempt in range(25):
        headers = {**owner.headers, "Idempotency-Key": f"quick-{attempt}"}
        body = {"domains": [f"quick{attempt}.com"]}
        status, _, first = _request(conn, "POST", "/v1/domains", body=body, headers=headers)
        assert status == 201
        status, replayed, again = _request(
            replay, "POST", "/v1/domains", body=body, headers=headers
        )
        assert status == 201, again
        assert replayed["idempotency-replayed"] == "true"
        assert again == first
    assert count_rows(db, Domain) == 25
    conn.close()
    replay.close()


# Every route whose response carries a secret; a new one must be added here (and is found by
# the route-table test below when its schema names a secret field).
SECRET_ROUTES = {
    ("GET", "/v1/mailboxes/{mailbox_id}/credentials"),
    ("GET", "/v1/mailboxes/{mailbox_id}/totp"),
    ("POST", "/v1/api-keys"),
    ("POST", "/v1/webhooks"),
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"),
}


def _has_secret(schema: dict[str, Any], components: dict[str, Any], seen: set[str]) -> bool:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return False
        return _has_secret(components[name], components, seen | {name})
    if SECRET_FIELDS & set(schema.get("properties", {})):
        return True
    children = [*schema.get("properties", {}).values(), schema.get("items", {})]
    children += [*schema.get("anyOf", []), *schema.get("allOf", []), *schema.get("oneOf", [])]
    return any(_has_secret(child, components, seen) for child in children if child)


def test_every_route_whose_response_carries_a_secret_is_listed(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    found = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {})
                if status.startswith("2") and _has_secret(
                    content.get("schema", {}), components, set()
                ):
                    found.add((method.upper(), path))
    # The TOTP code is a secret by what it is, not by a field name.
    assert found | {("GET", "/v1/mailboxes/{mailbox_id}/totp")} == SECRET_ROUTES


def _secret_request(db: Database, client: TestClient, method: str, path: str) -> Response:
    owner = make_tenant(db)
    mailbox_id = make_mailbox(db, make_domain(db, owner.workspace_id))
    box: SecretBox = client.app.state.secrets  # type: ignore[attr-defined]
    with db.transaction() as session:
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        mailbox.password_enc = box.encrypt("s3cret-Pass")
        mailbox.totp_secret_enc = box.encrypt("JBSWY3DPEHPK3PXP")
    webhook_id, _ = make_webhook(db, owner.workspace_id)
    url = path.format(mailbox_id=mailbox_id, webhook_id=webhook_id)
    bodies: dict[str, object] = {
        "/v1/api-keys": {"name": "ci"},
        "/v1/webhooks": {
            "url": "https://hooks.example.com/in",
            "events": ["domain.status_changed"],
        },
    }
    return client.request(method, url, json=bodies.get(path), headers=owner.headers)


@pytest.mark.parametrize(("method", "path"), sorted(SECRET_ROUTES))
def test_every_response_with_a_secret_is_no_store(
    db: Database, client: TestClient, method: str, path: str
) -> None:
    response = _secret_request(db, client, method, path)
    assert response.status_code in (200, 201), response.text
    assert response.headers["cache-control"] == "no-store"
