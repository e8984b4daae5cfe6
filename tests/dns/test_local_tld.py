"""Local TLDs: the builtin server plays the registry, so delegation passes on one machine.

With `local_tlds=["test"]` the server answers for `test.` as its registry would: a referral to
each domain's assigned pair, glue for nameservers under the TLD, NXDOMAIN for the rest. The
end-to-end test submits a domain through the API and lets the real jobs and the real
delegation check take it to ACTIVE, every query going to the server on loopback.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.dns.server import BuiltinDnsServer
from mailfleet.models import Domain, DomainStatus
from tests.factories import make_tenant
from tests.support.authoritative import HOST, ask
from tests.support.jobs import drain

PAIR = ("ns1.mailfleet.test", "ns2.mailfleet.test")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}.test"


def _local(server: BuiltinDnsServer, **overrides: Any) -> dict[str, Any]:
    """Settings of an app whose builtin server is `server`, with `test` as a local TLD."""
    return {
        "local_tlds": ["test"],
        "nameserver_pairs": [PAIR],
        "dns_server_host": HOST,
        "dns_server_port": server.port,
        "dns_query_timeout": 1.0,
        **overrides,
    }


def _submit(client: TestClient, headers: dict[str, str], name: str, **body: Any) -> str:
    response = client.post("/v1/domains", json={"domains": [name], **body}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["accepted"][0]["id"])


def _ns(rrsets: list[Any], owner: str) -> set[str]:
    return {
        rdata.target.to_text()
        for rrset in rrsets
        if rrset.rdtype == dns.rdatatype.NS and rrset.name.to_text() == owner + "."
        for rdata in rrset
    }


def test_a_local_tld_domain_goes_live_through_the_real_delegation_check(
    db: Database,
    make_client: Callable[..., TestClient],
    start_server: Callable[..., BuiltinDnsServer],
) -> None:
    server = start_server(local_tlds=["test"])
    client = make_client(**_local(server))
    caller = make_tenant(db)
    name = _name("acme")

    domain_id = _submit(client, caller.headers, name, mailbox_type="SMTP")
    drain(client.app.state.runtime)  # type: ignore[attr-defined]

    shown = client.get(f"/v1/domains/{domain_id}", headers=caller.headers).json()
    assert shown["status"] == "ACTIVE", shown
    assert shown["failure_reason"] is None
    assert shown["last_check_reason"].startswith(f"delegated to {PAIR[0]}, {PAIR[1]}")
    with db.transaction(write=False) as session:
        domain = session.scalars(select(Domain).where(Domain.name == name)).one()
        report = domain.delegation_report or {}
    # The parent asked was Mailfleet's own server, and it named the assigned pair.
    [parent] = report["parents"]
    assert parent["server"] == f"{HOST}:{server.port}"
    assert parent["nameservers"] == sorted(PAIR)
    assert report["parent_zone"] == "test"
    # And the zone is live: the type's records are served.
    mx = ask(server, name, "MX")
    assert mx.flags & dns.flags.AA
    assert [r.exchange.to_text() for r in mx.answer[0]] == ["mail.mailfleet.local."]


def test_the_tld_refers_each_domain_to_its_pair_with_glue(
    db: Database,
    make_client: Callable[..., TestClient],
    start_server: Callable[..., BuiltinDnsServer],
) -> None:
    glue = {PAIR[0]: ["127.0.0.1:5300"], PAIR[1]: ["127.0.0.2"]}
    server = start_server(local_tlds=["test"], dns_nameserver_addresses=glue)
    client = make_client(**_local(server, dns_nameserver_addresses=glue))
    caller = make_tenant(db)
    name = _name("refer")
    _submit(client, caller.headers, name)  # QUEUED: no zone here yet, only the TLD's referral

    for qname, qtype in ((name, "NS"), (f"www.{name}", "A")):
        response = ask(server, qname, qtype)
        assert response.rcode() == dns.rcode.NOERROR
        assert not response.flags & dns.flags.AA  # a referral is not authoritative
        assert response.answer == []
        assert _ns(response.authority, name) == {f"{host}." for host in PAIR}
        addresses = {
            (rrset.name.to_text(), rdata.address)
            for rrset in response.additional
            if rrset.rdtype == dns.rdatatype.A
            for rdata in rrset
        }
        assert addresses == {(f"{PAIR[0]}.", "127.0.0.1"), (f"{PAIR[1]}.", "127.0.0.2")}


def test_the_tld_apex_and_names_that_are_not_domains(
    db: Database,
    make_client: Callable[..., TestClient],
    start_server: Callable[..., BuiltinDnsServer],
) -> None:
    server = start_server(local_tlds=["test"])
    client = make_client(**_local(server))
    caller = make_tenant(db)
    removed = _name("removed")
    removed_id = _submit(client, caller.headers, removed)
    assert client.delete(f"/v1/domains/{removed_id}", headers=caller.headers).status_code == 200

    soa = ask(server, "test", "SOA")
    assert soa.flags & dns.flags.AA
    assert soa.answer[0][0].mname.to_text() == "a.nic.test."
    apex_ns = ask(server, "test", "NS")
    assert _ns(apex_ns.answer, "test") == {"a.nic.test.", "b.nic.test."}

    for missing in (_name("never-submitted"), removed):
        response = ask(server, missing, "A")
        assert response.rcode() == dns.rcode.NXDOMAIN
        assert response.flags & dns.flags.AA
        [negative] = response.authority
        assert negative.rdtype == dns.rdatatype.SOA
        assert negative.name.to_text() == "test."
    # TLDs that are not local stay someone else's business.
    assert ask(server, "acme.com", "A").rcode() == dns.rcode.REFUSED


def test_a_new_domain_is_referred_within_the_cache_time(
    db: Database,
    make_client: Callable[..., TestClient],
    start_server: Callable[..., BuiltinDnsServer],
) -> None:
    # The cache time `mailfleet serve` uses: one second.
    server = start_server(local_tlds=["test"], cache_seconds=1.0)
    client = make_client(**_local(server))
    caller = make_tenant(db)
    name = _name("fresh")
    assert ask(server, name, "NS").rcode() == dns.rcode.NXDOMAIN

    _submit(client, caller.headers, name)
    submitted = time.monotonic()
    while ask(server, name, "NS").rcode() != dns.rcode.NOERROR:
        assert time.monotonic() - submitted < 2.0, "not referred within 2 s of the submission"
        time.sleep(0.05)
    assert _ns(ask(server, name, "NS").authority, name) == {f"{host}." for host in PAIR}


def test_a_removed_domain_stops_being_referred(
    db: Database,
    make_client: Callable[..., TestClient],
    start_server: Callable[..., BuiltinDnsServer],
) -> None:
    server = start_server(local_tlds=["test"])
    client = make_client(**_local(server))
    caller = make_tenant(db)
    name = _name("gone")
    domain_id = _submit(client, caller.headers, name)
    drain(client.app.state.runtime)  # type: ignore[attr-defined]
    with db.transaction(write=False) as session:
        assert session.scalars(select(Domain.status).where(Domain.name == name)).one() == (
            DomainStatus.ACTIVE
        )

    assert client.delete(f"/v1/domains/{domain_id}", headers=caller.headers).status_code == 200

    assert ask(server, name, "NS").rcode() == dns.rcode.NXDOMAIN


def test_each_step_is_logged_in_one_line_naming_the_domain(
    db: Database,
    make_client: Callable[..., TestClient],
    start_server: Callable[..., BuiltinDnsServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = start_server(local_tlds=["test"])
    client = make_client(**_local(server))
    caller = make_tenant(db)
    name = _name("logged")
    caplog.set_level(logging.INFO, logger="mailfleet")

    domain_id = _submit(client, caller.headers, name, mailbox_type="SMTP")
    drain(client.app.state.runtime)  # type: ignore[attr-defined]
    check = client.post(f"/v1/domains/{domain_id}/dns/check", headers=caller.headers)
    assert check.status_code == 200, check.text

    lines = [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.INFO and record.name.startswith("mailfleet.")
    ]
    expected = (
        f"zone of {name} created at builtin",
        f"delegation of {name}: delegated: delegated to {PAIR[0]}",
        f"records of {name} published (SMTP)",
        f"health check of {name}: healthy",
    )
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert all("\n" not in line for line in lines)
