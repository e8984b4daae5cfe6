"""Fixtures of the DNS tests: builtin authoritative servers over the test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns.server import BuiltinDnsServer
from tests.support.authoritative import HOST


@pytest.fixture
def start_server(
    db: Database, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., BuiltinDnsServer]]:
    servers: list[BuiltinDnsServer] = []

    def start(*, cache_seconds: float = 0.0, **overrides: Any) -> BuiltinDnsServer:
        settings = make_settings(dns_server_host=HOST, dns_server_port=0, **overrides)
        server = BuiltinDnsServer(settings, db, cache_seconds=cache_seconds)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., BuiltinDnsServer]) -> BuiltinDnsServer:
    return start_server()
