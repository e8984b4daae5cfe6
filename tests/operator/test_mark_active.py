"""An operator marking a domain ACTIVE by hand: it goes live as a verified delegation does.

A QUEUED domain has no zone yet; marking it ACTIVE must not leave it without one. The zone is
created and the type's records published by the same jobs as on the automatic path, so the
builtin server answers for it; if that job is lost, the sweep's health check creates the zone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import dns.flags
import dns.rcode
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns.server import BuiltinDnsServer
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainStatus
from tests.factories import Caller, make_tenant
from tests.support.authoritative import HOST, ask
from tests.support.jobs import drain


@pytest.fixture
def dns_server(db: Database, make_settings: Callable[..., Settings]) -> Iterator[BuiltinDnsServer]:
    settings = make_settings(dns_server_host=HOST, dns_server_port=0)
    server = BuiltinDnsServer(settings, db, cache_seconds=0.0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_client(make_client: Callable[..., TestClient], dns_server: BuiltinDnsServer) -> TestClient:
    return make_client(dns_server_host=HOST, dns_server_port=dns_server.port)


def _submit(client: TestClient, caller: Caller) -> tuple[str, str]:
    name = f"by-hand-{uuid.uuid4().hex[:10]}.com"
    response = client.post(
        "/v1/domains", json={"domains": [name], "mailbox_type": "SMTP"}, headers=caller.headers
    )
    assert response.status_code == 201, response.text
    accepted = response.json()["accepted"][0]
    assert accepted["status"] == "QUEUED"
    return str(accepted["id"]), name


def _mark_active(client: TestClient, operator: Caller, domain_id: str) -> None:
    response = client.post(
        f"/v1/operator/domains/{domain_id}/status",
        json={"status": "ACTIVE"},
        headers=operator.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ACTIVE"


def _assert_served(server: BuiltinDnsServer, name: str) -> None:
    soa = ask(server, name, "SOA")
    assert soa.rcode() == dns.rcode.NOERROR
    assert soa.flags & dns.flags.AA
    assert soa.answer[0][0].mname.to_text() == "ns1.mailfleet.local."
    mx = ask(server, name, "MX")
    assert [r.exchange.to_text() for r in mx.answer[0]] == ["mail.mailfleet.local."]
    spf = ask(server, name, "TXT")
    assert [b"".join(r.strings) for r in spf.answer[0]] == [b"v=spf1 mx -all"]
    assert ask(server, f"_dmarc.{name}", "TXT").answer


def test_a_queued_domain_marked_active_gets_its_zone_and_records(
    db: Database, live_client: TestClient, dns_server: BuiltinDnsServer
) -> None:
    operator, customer = make_tenant(db, operator=True), make_tenant(db)
    domain_id, name = _submit(live_client, customer)

    _mark_active(live_client, operator, domain_id)
    drain(live_client.app.state.runtime)  # type: ignore[attr-defined]

    _assert_served(dns_server, name)
    with db.transaction(write=False) as session:
        domain = session.scalars(select(Domain).where(Domain.name == name)).one()
        assert domain.status == DomainStatus.ACTIVE
        assert domain.zone_id == name
        assert domain.dns_provider == "builtin"
        # Health checks follow, as for any ACTIVE domain.
        assert domain.next_check_at is not None
        assert domain.next_check_at > clock.now()


def test_the_sweep_creates_the_zone_if_the_job_was_lost(
    db: Database, live_client: TestClient, dns_server: BuiltinDnsServer
) -> None:
    runtime = live_client.app.state.runtime  # type: ignore[attr-defined]
    operator, customer = make_tenant(db, operator=True), make_tenant(db)
    domain_id, name = _submit(live_client, customer)
    _mark_active(live_client, operator, domain_id)
    runtime.huey.flush()  # the worker died: the zone jobs are gone
    assert ask(dns_server, name, "SOA").rcode() == dns.rcode.REFUSED

    clock.advance(runtime.settings.job_lease_seconds + 1)
    sweep(runtime)
    drain(runtime)

    _assert_served(dns_server, name)


def test_a_pending_domain_marked_active_is_published_and_health_checked(
    db: Database, live_client: TestClient, dns_server: BuiltinDnsServer
) -> None:
    runtime = live_client.app.state.runtime  # type: ignore[attr-defined]
    operator, customer = make_tenant(db, operator=True), make_tenant(db)
    domain_id, name = _submit(live_client, customer)
    drain(runtime)  # the zone exists; the delegation is not seen (the .com parent is unknown)
    shown = live_client.get(f"/v1/domains/{domain_id}", headers=customer.headers).json()
    assert shown["status"] == "PENDING_NS"

    _mark_active(live_client, operator, domain_id)
    drain(runtime)

    _assert_served(dns_server, name)
    with db.transaction(write=False) as session:
        domain = session.scalars(select(Domain).where(Domain.name == name)).one()
        assert domain.next_check_at is not None
        assert domain.next_check_at > clock.now()
