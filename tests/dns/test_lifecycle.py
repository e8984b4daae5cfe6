"""The domain lifecycle on real DNS: a PowerDNS parent plays the registry, another hosts zones.

Jobs run inline (`drain`), and time moves with `clock.advance`, so each step is deterministic;
the worker tests run the same jobs on real consumer threads and processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainStatus, Event
from tests.factories import make_tenant
from tests.support.dns_fixtures import PARENT_ZONE, TEST_PAIR
from tests.support.jobs import drain
from tests.support.powerdns import PowerDNS


def _submit(client: TestClient, headers: dict[str, str], *names: str) -> list[dict[str, Any]]:
    response = client.post("/v1/domains", json={"domains": list(names)}, headers=headers)
    assert response.status_code == 201, response.text
    return list(response.json()["accepted"])


def _domain(db: Database, name: str) -> Domain:
    with db.transaction(write=False) as session:
        domain = session.scalars(select(Domain).where(Domain.name == name)).one()
        session.expunge(domain)
        return domain


def _tick(client: TestClient, seconds: float) -> None:
    """Let time pass, then do what the worker does on its own: sweep and run what is due."""
    clock.advance(seconds)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    sweep(runtime)
    drain(runtime)


def test_domain_becomes_active_once_the_parent_delegates(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    client = make_client(**dns_overrides)
    caller = make_tenant(db)
    name = unique_domain("life")

    [accepted] = _submit(client, caller.headers, name)
    assert accepted["status"] == "QUEUED"
    assert accepted["nameservers"] == list(TEST_PAIR)

    drain(client.app.state.runtime)  # type: ignore[attr-defined]
    domain = _domain(db, name)
    assert domain.status == DomainStatus.PENDING_NS
    zone = pdns_child.zone(name)
    assert zone is not None
    ns = {rr["content"] for s in zone["rrsets"] if s["type"] == "NS" for rr in s["records"]}
    assert ns == {f"{host}." for host in TEST_PAIR}

    # Not delegated yet: the domain waits, and says why, without looking failed.
    _tick(client, 60)
    domain = _domain(db, name)
    assert domain.status == DomainStatus.PENDING_NS
    assert domain.check_attempts >= 1
    assert domain.failure_reason is None
    shown = client.get(f"/v1/domains/{accepted['id']}", headers=caller.headers).json()
    assert shown["failure_reason"] is None
    assert "NXDOMAIN" in shown["last_check_reason"]
    assert shown["last_checked_at"] is not None

    pdns_parent.delegate(PARENT_ZONE, name, TEST_PAIR)
    _tick(client, 3600)
    domain = _domain(db, name)
    assert domain.status == DomainStatus.ACTIVE
    assert domain.activated_at is not None
    assert domain.failure_reason is None
    assert (domain.last_check_reason or "").startswith("delegated to ")
    with db.transaction(write=False) as session:
        transitions = [
            (event.data["previous"], event.data["status"])
            for event in session.scalars(
                select(Event)
                .where(Event.subject_id == domain.id, Event.type == "domain.status_changed")
                .order_by(Event.created_at, Event.id)
            )
        ]
    assert transitions == [("QUEUED", "PENDING_NS"), ("PENDING_NS", "ACTIVE")]


def test_verify_names_the_wrong_nameservers(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    client = make_client(**dns_overrides)
    caller = make_tenant(db)
    name = unique_domain("wrong")
    [accepted] = _submit(client, caller.headers, name)
    drain(client.app.state.runtime)  # type: ignore[attr-defined]
    pdns_parent.delegate(PARENT_ZONE, name, ("ns1.elsewhere.net", "ns2.elsewhere.net"))

    response = client.post(f"/v1/domains/{accepted['id']}/verify", headers=caller.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "PENDING_NS"
    assert body["delegated"] is False
    assert body["diagnosis"]["expected"] == sorted(TEST_PAIR)
    [parent] = body["diagnosis"]["parents"]
    assert sorted(parent["nameservers"]) == ["ns1.elsewhere.net", "ns2.elsewhere.net"]
    assert "ns1.elsewhere.net" in body["diagnosis"]["reason"]


def test_verify_activates_a_correctly_delegated_domain_at_once(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    client = make_client(**dns_overrides)
    caller = make_tenant(db)
    name = unique_domain("now")
    pdns_parent.delegate(PARENT_ZONE, name, TEST_PAIR)
    # Verify before any job ran: the zone is created on the spot, then checked.
    [accepted] = _submit(client, caller.headers, name)

    response = client.post(f"/v1/domains/{accepted['id']}/verify", headers=caller.headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ACTIVE"
    assert response.json()["delegated"] is True
    assert _domain(db, name).status == DomainStatus.ACTIVE


def test_deadline_fails_the_domain_with_what_the_parent_said(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    client = make_client(**dns_overrides, ns_check_deadline_hours=72)
    caller = make_tenant(db)
    name = unique_domain("late")
    _submit(client, caller.headers, name)
    drain(client.app.state.runtime)  # type: ignore[attr-defined]
    pdns_parent.delegate(
        PARENT_ZONE, name, ("ns1.registrar-parking.net", "ns2.registrar-parking.net")
    )

    _tick(client, 71 * 3600)
    assert _domain(db, name).status == DomainStatus.PENDING_NS
    _tick(client, 2 * 3600)

    domain = _domain(db, name)
    assert domain.status == DomainStatus.FAILED
    assert domain.next_check_at is None
    reason = domain.failure_reason or ""
    assert reason.startswith("Delegation not seen within 72 h")
    assert "ns1.registrar-parking.net" in reason
    assert "ns1.registrar-parking.net" in (domain.last_check_reason or "")


def test_backoff_grows_from_seconds_to_an_hour(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    unique_domain: Callable[[str], str],
) -> None:
    client = make_client(**dns_overrides, ns_check_backoff=[10, 60, 3600])
    caller = make_tenant(db)
    name = unique_domain("wait")
    _submit(client, caller.headers, name)
    gaps = []
    for step in range(4):
        if step == 0:
            drain(client.app.state.runtime)  # type: ignore[attr-defined]
        else:
            _tick(client, 4000)
        domain = _domain(db, name)
        assert domain.next_check_at is not None
        gaps.append(round((domain.next_check_at - clock.now()).total_seconds()))
    # The first check runs right after the zone exists; then 10 s, 1 min, and hourly.
    assert gaps == [10, 60, 3600, 3600]


def test_removed_domain_loses_its_zone(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    client = make_client(**dns_overrides)
    caller = make_tenant(db)
    name = unique_domain("gone")
    [accepted] = _submit(client, caller.headers, name)
    drain(client.app.state.runtime)  # type: ignore[attr-defined]
    assert pdns_child.zone(name) is not None

    response = client.delete(f"/v1/domains/{accepted['id']}", headers=caller.headers)
    assert response.status_code == 200, response.text
    drain(client.app.state.runtime)  # type: ignore[attr-defined]

    assert pdns_child.zone(name) is None
