"""The exported zone file is the zone the builtin server serves, and BIND accepts it.

Each zone is built the way a user builds it: submitted with a mailbox type (so the type's
records are published), DMARC reports set, and user records of every supported type added
through the API. The export (`GET .../dns/zone`) is then compared record by record, SOA
included, with a zone transfer from the builtin server, and checked with `named-checkzone`.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dns.query
import dns.rdatatype
import dns.zone
import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.dns import soa
from mailfleet.dns.server import BuiltinDnsServer
from tests.factories import Caller, make_tenant
from tests.support.authoritative import HOST, ask
from tests.support.jobs import drain
from tests.support.servers import unavailable

TYPES = ("SMTP", "GOOGLE", "MICROSOFT")
# (name relative to the zone, type, content, priority): one of each type users may add.
USER_RECORDS: list[tuple[str, str, str, int | None]] = [
    ("app", "A", "192.0.2.10", None),
    ("app", "AAAA", "2001:db8::10", None),
    ("docs", "CNAME", "app", None),
    ("backup", "MX", "mx.example.net", 20),
    ("@", "TXT", 'note with "quotes", a \\ backslash and ünïcode', None),
    ("_sip._tcp", "SRV", "5 5060 sip.example.net", 10),
    ("@", "CAA", '0 issue "letsencrypt.org"', None),
    # A delegated sub-zone with in-zone glue.
    ("lab", "NS", "ns1.lab", None),
    ("ns1.lab", "A", "192.0.2.53", None),
]


def _hosted_zone(client: TestClient, caller: Caller, mailbox_type: str) -> tuple[str, str]:
    """(domain id, name) of a zone with the type's records and every user record type."""
    name = f"export-{mailbox_type.lower()}-{uuid.uuid4().hex[:8]}.com"
    response = client.post(
        "/v1/domains",
        json={"domains": [name], "mailbox_type": mailbox_type},
        headers=caller.headers,
    )
    assert response.status_code == 201, response.text
    domain_id = response.json()["accepted"][0]["id"]
    drain(client.app.state.runtime)  # type: ignore[attr-defined]
    base = f"/v1/domains/{domain_id}"
    patch = client.patch(base, json={"dmarc_rua": f"reports@{name}"}, headers=caller.headers)
    assert patch.status_code == 200, patch.text
    for owner, rtype, content, priority in USER_RECORDS:
        if rtype == "CNAME" and content == "app":
            content = f"app.{name}"
        if rtype == "NS" and content == "ns1.lab":
            content = f"ns1.lab.{name}"
        body: dict[str, Any] = {"name": owner, "type": rtype, "content": content, "ttl": 600}
        if priority is not None:
            body["priority"] = priority
        added = client.post(f"{base}/dns/records", json=body, headers=caller.headers)
        assert added.status_code == 201, added.text
    return domain_id, name


def _export(client: TestClient, caller: Caller, domain_id: str) -> str:
    response = client.get(f"/v1/domains/{domain_id}/dns/zone", headers=caller.headers)
    assert response.status_code == 200, response.text
    return response.text


def _contents(zone: dns.zone.Zone) -> set[tuple[str, str, int, str]]:
    return {
        (name.to_text().lower(), dns.rdatatype.to_text(rdata.rdtype), ttl, rdata.to_text())
        for name, ttl, rdata in zone.iterate_rdatas()
    }


@pytest.fixture
def transfer_server(start_server: Callable[..., BuiltinDnsServer]) -> BuiltinDnsServer:
    return start_server(dns_transfer_allowed=[HOST])


@pytest.mark.parametrize("mailbox_type", TYPES)
def test_the_export_is_what_the_builtin_server_serves(
    db: Database,
    client: TestClient,
    transfer_server: BuiltinDnsServer,
    mailbox_type: str,
) -> None:
    caller = make_tenant(db)
    domain_id, name = _hosted_zone(client, caller, mailbox_type)

    exported = dns.zone.from_text(_export(client, caller, domain_id), relativize=False)
    transfer = dns.query.xfr(HOST, name, port=transfer_server.port, timeout=5, relativize=False)
    served = dns.zone.from_xfr(transfer, relativize=False)

    assert _contents(exported) == _contents(served)
    # Every RRset answers on its own too, with the TTL and data of the export.
    for owner, rdataset in exported.iterate_rdatasets():
        response = ask(transfer_server, owner.to_text(), dns.rdatatype.to_text(rdataset.rdtype))
        # At and below the delegated `lab` the answer is a referral, glue in the additional.
        below_cut = owner.to_text().endswith(f"lab.{name}.")
        section = response.authority + response.additional if below_cut else response.answer
        [rrset] = [r for r in section if r.name == owner and r.rdtype == rdataset.rdtype]
        assert (rrset.ttl, set(rrset)) == (rdataset.ttl, set(rdataset))
    # One set of SOA timers, whoever serves the zone.
    [record] = exported.find_rdataset(name + ".", "SOA")
    assert (record.refresh, record.retry, record.expire, record.minimum) == (  # type: ignore[attr-defined]
        soa.REFRESH,
        soa.RETRY,
        soa.EXPIRE,
        soa.MINIMUM,
    )


def test_named_checkzone_accepts_every_exported_zone(
    db: Database, client: TestClient, tmp_path: Path
) -> None:
    checker = shutil.which("named-checkzone")
    if checker is None:
        unavailable("named-checkzone not found (apt-get install bind9-utils)")
        return
    caller = make_tenant(db)
    for mailbox_type in TYPES:
        domain_id, name = _hosted_zone(client, caller, mailbox_type)
        path = tmp_path / f"{name}.zone"
        path.write_text(_export(client, caller, domain_id))
        # Strict on everything it can check locally; `-i local` keeps it from looking up
        # out-of-zone names (no DNS query leaves the machine).
        result = subprocess.run(
            [checker, "-i", "local", "-k", "fail", "-m", "fail", "-M", "fail", "-n", "fail"]
            + ["-r", "fail", "-S", "fail", name, str(path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, f"{mailbox_type}: {result.stdout}{result.stderr}"
        assert "OK" in result.stdout
