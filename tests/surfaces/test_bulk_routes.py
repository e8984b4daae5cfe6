"""Each surface names its bulk routes, which take the bigger body limit; the others do not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fastapi.testclient import TestClient

from mailfleet.app import create_app
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit.bodylimit import bulk_route
from mailfleet.surfaces.native import native_surface
from tests.factories import make_tenant
from tests.surfaces.testsurface import KEY_HEADER, PREFIX, make_test_surface

PADDING = "x" * 5000  # over the default limit below, under the bulk one


def test_a_surfaces_bulk_route_takes_the_bigger_limit(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(max_request_body_bytes=2048, max_bulk_request_body_bytes=1024**2)
    test_surface = replace(make_test_surface(), bulk_routes=(("POST", "/things"),))
    client = TestClient(create_app(settings, db, [native_surface(), test_surface]))
    owner = make_tenant(db)
    headers = {KEY_HEADER: owner.token, "x-test-workspace": str(owner.workspace_id)}
    body = {"name": "big", "size": 1, "padding": PADDING}

    assert client.post(f"{PREFIX}/things", json=body, headers=headers).status_code == 201
    # The same size on a route neither surface names is refused, in each surface's format.
    refused = client.post(f"{PREFIX}/things/extra", json=body, headers=headers)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "request_too_large"
    refused = client.post("/v1/api-keys", json={"name": PADDING}, headers=owner.headers)
    assert refused.status_code == 413
    assert refused.json()["code"] == "request_too_large"


def test_the_native_surface_names_todays_bulk_routes() -> None:
    patterns = native_surface().bulk_patterns()
    assert patterns == (
        bulk_route("POST", "/v1", "/domains"),
        bulk_route("POST", "/v1", "/mailbox-orders"),
        bulk_route("PUT", "/v1", "/mailboxes/{mailbox_id}/picture"),
    )
    method, picture = patterns[2]
    assert method == "PUT"
    assert picture.match("/v1/mailboxes/0190-abc/picture")
    assert picture.match("/v1/mailboxes/0190-abc/picture/")
    assert not picture.match("/v1/mailboxes/0190-abc/other/picture")
    assert not patterns[0][1].match("/v1/domains/x")
