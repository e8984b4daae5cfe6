"""Blacklist checks against the loopback DNSBL: settings that point every query at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.reputation.dnsbl_server import DnsblServer, dnsbl_server

DOMAIN_ZONES = ["dbl.test", "surbl.test"]
IP_ZONES = ["zen.test"]
SENDING_IP = "203.0.113.7"


@pytest.fixture
def dnsbl() -> Iterator[DnsblServer]:
    with dnsbl_server() as server:
        yield server


def dnsbl_settings(server: DnsblServer, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "dnsbl_enabled": True,
        "dnsbl_resolvers": [server.address],
        "dnsbl_domain_zones": DOMAIN_ZONES,
        "dnsbl_ip_zones": IP_ZONES,
        "dnsbl_sending_ips": [SENDING_IP],
        # Budget tests inject their own bucket; here the budget must not slow the suite.
        "dnsbl_queries_per_second": 5000.0,
        "dnsbl_timeout_seconds": 2.0,
    }
    values.update(overrides)
    return values


@pytest.fixture
def bl_client(make_client: Callable[..., TestClient], dnsbl: DnsblServer) -> TestClient:
    return make_client(**dnsbl_settings(dnsbl))
