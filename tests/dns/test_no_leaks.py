"""With the test settings, no DNS query leaves the machine.

Every socket destination of the test process is recorded (connect and sendto, which dnspython's
sync and asyncio paths and Mailfleet's own transport all go through) while the delegation check
and the health check run with nothing configured for the names involved, the case where they
would otherwise fall back to the system resolvers of /etc/resolv.conf.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns import checks
from mailfleet.dns.delegation import DelegationChecker
from mailfleet.dns.server import BuiltinDnsServer
from mailfleet.models import Domain, DomainStatus
from tests.factories import make_tenant
from tests.support.authoritative import HOST
from tests.support.jobs import drain


@pytest.fixture
def destinations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Hosts this process connects or sends datagrams to, while the test runs."""
    seen: list[str] = []

    def recorded(name: str, at: int) -> Callable[..., Any]:
        original = getattr(socket.socket, name)

        def wrapper(self: socket.socket, *args: Any) -> Any:
            address = args[at] if len(args) > at else None
            if isinstance(address, tuple) and address:
                seen.append(str(address[0]))
            return original(self, *args)

        return wrapper

    for name, at in (("connect", 0), ("connect_ex", 0), ("sendto", -1)):
        monkeypatch.setattr(socket.socket, name, recorded(name, at))
    monkeypatch.setattr(socket.socket, "sendmsg", recorded("sendmsg", 3))
    return seen


def _off_machine(hosts: list[str]) -> list[str]:
    leaving = []
    for host in hosts:
        try:
            loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            leaving.append(host)
    return leaving


def test_the_delegation_check_asks_only_loopback(
    make_settings: Callable[..., Settings], destinations: list[str]
) -> None:
    # Neither the parent (.com) nor the nameservers are configured: all must be resolved.
    checker = DelegationChecker(make_settings())

    diagnosis = checker.check("leak-probe.com", ["ns1.example.net", "ns2.example.net"])

    assert not diagnosis.delegated
    assert destinations, "the check sent nothing: the probe recorded no socket use"
    assert _off_machine(destinations) == []


def test_the_lifecycle_and_the_health_check_ask_only_loopback(
    db: Database,
    make_client: Callable[..., TestClient],
    start_server: Callable[..., BuiltinDnsServer],
    destinations: list[str],
) -> None:
    server = start_server()
    client = make_client(dns_server_host=HOST, dns_server_port=server.port)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    caller = make_tenant(db)
    # GOOGLE: its SPF includes _spf.google.com, which checkdmarc would resolve; the DMARC
    # reports go to another domain, whose authorisation checkdmarc may look up.
    response = client.post(
        "/v1/domains",
        json={"domains": ["leak-google.com", "leak-elsewhere.com"], "mailbox_type": "GOOGLE"},
        headers=caller.headers,
    )
    assert response.status_code == 201, response.text
    ids = {item["name"]: item["id"] for item in response.json()["accepted"]}
    patched = client.patch(
        f"/v1/domains/{ids['leak-google.com']}",
        json={"dmarc_rua": "reports@dmarc-reports.example.org"},
        headers=caller.headers,
    )
    assert patched.status_code == 200, patched.text
    drain(runtime)  # zone creation and the delegation check (the .com parent is resolved)
    with db.transaction() as session:
        # A zone at another provider: its nameservers' addresses must be resolved.
        session.execute(
            update(Domain)
            .where(Domain.name == "leak-elsewhere.com")
            .values(dns_provider="powerdns", status=DomainStatus.ACTIVE)
        )
        found = dict(session.execute(select(Domain.name, Domain.id)).tuples().all())

    served = checks.run_and_store(runtime, found["leak-google.com"], actor="test")
    checks.run_and_store(runtime, found["leak-elsewhere.com"], actor="test")

    assert served["spf"] is not None
    assert served["dmarc"] is not None
    assert destinations
    assert _off_machine(destinations) == []
