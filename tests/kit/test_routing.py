"""Route tables are built at start-up, so the first requests of a fresh server do not pay for it.

FastAPI (0.165) prepares an included router's routes (their dependencies and field models) the
first time a request is matched against them, then keeps them. Here that preparation is counted
during requests: with the start-up warm-up, none happens; without it, the first request pays.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import routing
from fastapi.testclient import TestClient

from mailfleet.db import Database
from tests.factories import make_tenant


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    original = routing._IncludedRouter._build_effective_context

    def counted(self: routing._IncludedRouter, route: object) -> object:
        built.append(getattr(route, "path", "?"))
        return original(self, route)

    monkeypatch.setattr(routing._IncludedRouter, "_build_effective_context", counted)
    return built


def _first_requests(client: TestClient, db: Database, built: list[str]) -> list[str]:
    owner = make_tenant(db)
    built.clear()
    for path in ("/v1/mailboxes", "/inboxedup/account", "/zapmail/api/v2/users"):
        client.get(path, headers=owner.headers)
    return list(built)


@pytest.mark.parametrize("warm", [True, False])
def test_the_first_requests_find_their_routes_ready(
    db: Database, make_client: Callable[..., TestClient], builds: list[str], warm: bool
) -> None:
    with make_client(warm_routes=warm) as client:
        during = _first_requests(client, db, builds)
    if warm:
        assert during == []
    else:
        assert "/mailboxes" in during
