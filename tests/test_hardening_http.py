"""HTTP hardening over a real uvicorn server: error answers keep the connection, idempotency
outcomes are stored before the response leaves."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import re
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
from starlette.types import Message, Receive, Scope, Send

from mailfleet.app import create_app
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit.bodylimit import BodyLimitMiddleware
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.responses import SECRET_FIELDS
from mailfleet.models import Domain, Mailbox
from mailfleet.surfaces.native import native_surface
from tests.factories import count_rows, make_domain, make_mailbox, make_tenant, make_webhook
from tests.support.servers import free_port

broken = APIRouter()
# Mounted in the native surface, under /v1: its requests go through the surface's middleware.
broken_native = APIRouter()


@broken.get("/broken")
def raise_on_get() -> None:
    raise RuntimeError("a bug in a route")


@broken_native.post("/broken")
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
    app = create_app(make_settings(), db, [native_surface(extra_routers=[broken_native])])
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


def test_json_scalars_are_taken_as_their_json_type_only(db: Database, client: TestClient) -> None:
    operator = make_tenant(db, operator=True)
    allocation = f"/v1/operator/workspaces/{operator.workspace_id}/allocations/SMTP"
    hook = {"url": "https://hooks.example.com/in", "events": ["domain.status_changed"]}
    refused = [
        ("PUT", allocation, {"slots": "5"}, "slots"),
        ("PUT", allocation, {"slots": True}, "slots"),
        ("POST", "/v1/webhooks", {**hook, "enabled": "true"}, "enabled"),
        ("POST", "/v1/webhooks", {**hook, "enabled": 1}, "enabled"),
    ]
    for method, path, body, field in refused:
        response = client.request(method, path, json=body, headers=operator.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["field"] == field
    # The same bodies with JSON's own types pass; enums and UUIDs still come as strings.
    assert client.put(allocation, json={"slots": 5}, headers=operator.headers).status_code == 200
    created = client.post("/v1/webhooks", json={**hook, "enabled": True}, headers=operator.headers)
    assert created.status_code == 201, created.text
    pinned = {"name": "ci", "workspace_id": str(operator.workspace_id)}
    assert client.post("/v1/api-keys", json=pinned, headers=operator.headers).status_code == 201


def test_the_openapi_document_still_types_strict_fields(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    slots = schemas["AllocationSet"]["properties"]["slots"]
    assert slots["type"] == "integer"
    assert slots["minimum"] == 0
    assert schemas["WebhookCreate"]["properties"]["enabled"]["type"] == "boolean"


def test_a_declared_body_over_the_limit_is_413_before_reading(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(max_request_body_bytes=4096)
    owner = make_tenant(db)
    response = client.post("/v1/api-keys", json={"name": "x" * 10_000}, headers=owner.headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "request_too_large"


def test_a_chunked_body_over_the_limit_is_413(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(max_request_body_bytes=4096)
    owner = make_tenant(db)

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"name": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    headers = {**owner.headers, "Content-Type": "application/json"}
    response = client.post("/v1/api-keys", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_the_limit_stops_reading_past_it() -> None:
    read = 0

    async def endless() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def never_called(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not run")

    sent: list[Message] = []

    async def collect(message: Message) -> None:
        sent.append(message)

    middleware = BodyLimitMiddleware(never_called, default_limit=10 * 1024, bulk_limit=10**9)
    scope = {"type": "http", "method": "POST", "path": "/v1/api-keys", "headers": []}
    asyncio.run(middleware(scope, endless, collect))
    assert sent[0]["status"] == 413
    assert read == 11  # the chunk that crossed the limit is the last one read


def test_bulk_routes_take_the_bigger_limit(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(max_request_body_bytes=2048, max_bulk_request_body_bytes=1024 * 1024)
    owner = make_tenant(db)
    names = [f"bulk-{i:03d}-{'a' * 40}.com" for i in range(100)]  # about 5 KB
    assert (
        client.post("/v1/domains", json={"domains": names}, headers=owner.headers).status_code
        == 201
    )
    body = {"name": "ci", "padding": "x" * 5000}
    assert client.post("/v1/api-keys", json=body, headers=owner.headers).status_code == 413


def test_the_default_limits_fit_the_documented_maximums() -> None:
    settings = Settings()
    biggest_batch = json.dumps(
        {"domains": [f"{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 57}.com"] * 10_000}
    )
    assert len(biggest_batch) < settings.max_bulk_request_body_bytes
    assert settings.max_bulk_request_body_bytes > 4 * 1024 * 1024  # a 4 MB picture
    assert settings.max_request_body_bytes == 2 * 1024 * 1024


def test_free_text_fields_are_bounded(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    big_tag = {"domains": ["tagged.com"], "tags": ["t" * (5 * 1024 * 1024)]}
    too_many = {"domains": ["tagged.com"], "tags": [f"t{i}" for i in range(21)]}
    long_tag = {"domains": ["tagged.com"], "tags": ["t" * 65]}
    for body, field in ((big_tag, "tags[0]"), (too_many, "tags"), (long_tag, "tags[0]")):
        response = client.post("/v1/domains", json=body, headers=owner.headers)
        assert response.status_code == 422, response.text[:300]
        assert response.json()["field"] == field
    assert count_rows(db, Domain) == 0
    long_name = client.post("/v1/workspaces", json={"name": "n" * 101}, headers=owner.headers)
    assert long_name.status_code == 422
    assert long_name.json()["field"] == "name"


@pytest.mark.parametrize("char", ["\n", "\r", "\x1b", "\x07", "\x7f", "\x85"])
def test_control_characters_in_names_are_refused(
    db: Database, client: TestClient, char: str
) -> None:
    owner = make_tenant(db)
    workspace = client.post(
        "/v1/workspaces", json={"name": f"Acme{char}Inc"}, headers=owner.headers
    )
    assert workspace.status_code == 422
    assert workspace.json()["field"] == "name"
    key = client.post("/v1/api-keys", json={"name": f"ci{char}x"}, headers=owner.headers)
    assert key.status_code == 422
    assert key.json()["field"] == "name"
    tag = client.post(
        "/v1/domains", json={"domains": ["ctl.com"], "tags": [f"a{char}b"]}, headers=owner.headers
    )
    assert tag.status_code == 422
    assert tag.json()["field"] == "tags[0]"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_everything_from_the_app(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert re.findall(r"https?://", html) == []  # no CDN, no fonts host, no validator
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(url.endswith(".js") for url in assets)
    for url in assets:
        assert url.startswith("/"), url
        fetched = client.get(url)
        assert fetched.status_code == 200, url
        assert fetched.content
    assert "/openapi.json" in html
