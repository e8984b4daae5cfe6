"""Forwarded domains answer with their redirect; every other host reaches the API.

Lookups are cached per process for CACHE_SECONDS and never shared: a forwarding change is
served by every process, this one or another, once its cached lookup expires. Two apps over one
database play two processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.forwarding import middleware
from tests.factories import Caller, make_domain, make_tenant


def _forward(client: TestClient, owner: Caller, domain_id: object, **body: object) -> None:
    response = client.patch(f"/v1/domains/{domain_id}", json=body, headers=owner.headers)
    assert response.status_code == 200, response.text


def test_a_forwarded_domain_and_its_www_redirect(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    _forward(client, owner, domain.id, forwarding_url="https://example.org/", forwarding_code=302)
    for host in (domain.name, f"www.{domain.name}", f"{domain.name.upper()}.:80"):
        response = client.get("/any/path", headers={"Host": host}, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (
            302,
            "https://example.org/",
        )


def test_the_apis_own_hosts_and_addresses_pass_through(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    for host in ("testserver", "127.0.0.1:8000", "[::1]:8000", "localhost"):
        response = client.get("/v1/account", headers={**owner.headers, "Host": host})
        assert response.status_code == 200, host
    unknown = client.get("/health", headers={"Host": "not-forwarded.example"})
    assert unknown.status_code == 200


def test_a_change_reaches_every_process_once_its_cached_lookup_expires(
    db: Database, make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.monotonic()]
    monkeypatch.setattr(middleware, "time", SimpleNamespace(monotonic=lambda: now[0]))
    first, second = make_client(), make_client()
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    headers = {"Host": domain.name}
    _forward(first, owner, domain.id, forwarding_url="https://one.example/")
    assert second.get("/", headers=headers, follow_redirects=False).headers["location"] == (
        "https://one.example/"
    )
    _forward(first, owner, domain.id, forwarding_url="https://two.example/")
    stale = second.get("/", headers=headers, follow_redirects=False)
    assert stale.headers["location"] == "https://one.example/"
    now[0] += middleware.CACHE_SECONDS
    fresh = second.get("/", headers=headers, follow_redirects=False)
    assert (fresh.status_code, fresh.headers["location"]) == (301, "https://two.example/")
    _forward(first, owner, domain.id, forwarding_url=None)
    now[0] += middleware.CACHE_SECONDS
    assert second.get("/health", headers=headers).status_code == 200
