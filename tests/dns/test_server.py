"""The builtin authoritative DNS server's answers, queried over real sockets with dnspython.

Each test starts a server on 127.0.0.1, port 0, over the test database (SQLite and PostgreSQL).
Most servers check zone serials on every query (`cache_seconds=0`) so a change made by the test
is visible at once; one test measures the cache itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest
from sqlalchemy import event, update

from mailfleet.db import Database
from mailfleet.dns.server import BuiltinDnsServer
from mailfleet.models import DomainStatus
from mailfleet.models.domain import DnsRecord
from tests.support.authoritative import (
    BASIC,
    ZONE,
    add_zone,
    ask,
    change_zone,
    only_answer,
)

# --- positive answers --------------------------------------------------------------------------


def test_a_record_is_authoritative_and_never_recursive(
    db: Database, server: BuiltinDnsServer
) -> None:
    add_zone(db, BASIC)

    response = ask(server, "acme.com", "A")

    rrset = only_answer(response)
    assert [rdata.address for rdata in rrset] == ["192.0.2.10"]
    assert rrset.ttl == 300
    assert not response.flags & dns.flags.RA


def test_mx_carries_priorities_and_in_zone_addresses(
    db: Database, server: BuiltinDnsServer
) -> None:
    add_zone(db, BASIC)

    response = ask(server, "acme.com", "MX")

    rrset = only_answer(response)
    assert sorted((r.preference, r.exchange.to_text()) for r in rrset) == [
        (10, "mx1.acme.com."),
        (20, "mx2.acme.com."),
    ]
    # mx1 lives in the zone, so its address rides along; mx2 has none.
    glue = {(r.name.to_text(), r[0].address) for r in response.additional if r.rdtype == 1}
    assert glue == {("mx1.acme.com.", "192.0.2.25")}


def test_txt_record(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    rrset = only_answer(ask(server, "_dmarc.acme.com", "TXT"))

    assert [rdata.strings for rdata in rrset] == [(b"v=DMARC1; p=none",)]


def test_names_match_case_insensitively(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    rrset = only_answer(ask(server, "AcMe.CoM", "TXT"))

    assert rrset[0].strings == (b"v=spf1 mx -all",)


def test_apex_ns_falls_back_to_the_assigned_pair(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    rrset = only_answer(ask(server, "acme.com", "NS"))

    assert sorted(r.target.to_text() for r in rrset) == [
        "ns1.mailfleet.local.",
        "ns2.mailfleet.local.",
    ]


def test_stored_apex_ns_records_win(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(
        db,
        [
            (ZONE, "NS", "ns-a.example.net", 3600, None),
            (ZONE, "NS", "ns-b.example.net", 3600, None),
        ],
    )

    rrset = only_answer(ask(server, "acme.com", "NS"))

    assert sorted(r.target.to_text() for r in rrset) == ["ns-a.example.net.", "ns-b.example.net."]


def test_soa_is_synthesized_and_its_serial_follows_the_domain(
    db: Database, server: BuiltinDnsServer
) -> None:
    domain_id = add_zone(db, BASIC, serial=41)

    soa = only_answer(ask(server, "acme.com", "SOA"))[0]
    change_zone(db, domain_id)
    bumped = only_answer(ask(server, "acme.com", "SOA"))[0]

    assert soa.mname.to_text() == "ns1.mailfleet.local."
    assert soa.rname.to_text() == "hostmaster.mailfleet.local."
    assert (soa.serial, bumped.serial) == (41, 42)
    assert soa.refresh > soa.retry > 0
    assert soa.expire > soa.refresh
    assert 0 < soa.minimum <= 3600


def test_cname_answers_every_type_at_its_name(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    for rdtype in ("A", "MX", "TXT"):
        rrset = only_answer(ask(server, "www.acme.com", rdtype))
        assert rrset.rdtype == dns.rdatatype.CNAME
        assert rrset[0].target.to_text() == "acme.com."


def test_wildcard_synthesizes_records_for_missing_names(
    db: Database, server: BuiltinDnsServer
) -> None:
    add_zone(db, [("*.acme.com", "A", "192.0.2.99", 3600, None), *BASIC])

    rrset = only_answer(ask(server, "anything.acme.com", "A"))
    existing = only_answer(ask(server, "mx1.acme.com", "A"))

    assert rrset.name.to_text() == "anything.acme.com."
    assert rrset[0].address == "192.0.2.99"
    assert existing[0].address == "192.0.2.25"


def test_delegated_sub_zone_gets_a_referral(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(
        db,
        [
            ("eu.acme.com", "NS", "ns.eu.acme.com", 3600, None),
            ("ns.eu.acme.com", "A", "192.0.2.53", 3600, None),
        ],
    )

    response = ask(server, "host.eu.acme.com", "A")

    assert response.rcode() == dns.rcode.NOERROR
    assert not response.flags & dns.flags.AA
    assert response.answer == []
    assert [r.name.to_text() for r in response.authority] == ["eu.acme.com."]
    assert [r[0].address for r in response.additional if r.rdtype == 1] == ["192.0.2.53"]


# --- negative answers ---------------------------------------------------------------------------


def test_missing_name_is_nxdomain_with_soa(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC, serial=9)

    response = ask(server, "nope.acme.com", "A")

    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert response.answer == []
    (soa,) = response.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa[0].serial == 9
    # Negative answers are cached for at most the SOA minimum (RFC 2308).
    assert soa.ttl == min(soa[0].minimum, 3600)


def test_missing_type_is_nodata_with_soa(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    response = ask(server, "_dmarc.acme.com", "AAAA")

    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert response.answer == []
    assert [r.rdtype for r in response.authority] == [dns.rdatatype.SOA]


def test_empty_non_terminal_is_nodata_not_nxdomain(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    response = ask(server, "_domainkey.acme.com", "TXT")

    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []
    assert [r.rdtype for r in response.authority] == [dns.rdatatype.SOA]


def test_names_outside_our_zones_are_refused(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    for name in ("example.org", "com", "notacme.com"):
        response = ask(server, name, "A")
        assert response.rcode() == dns.rcode.REFUSED
        assert not response.flags & dns.flags.AA
        assert response.answer == []


def test_recursive_queries_for_foreign_names_get_no_recursion(
    db: Database, server: BuiltinDnsServer
) -> None:
    add_zone(db, BASIC)

    response = ask(server, "www.google.com", "A", recursive=True)

    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.RA
    assert response.answer == []


@pytest.mark.parametrize(
    ("provider", "zone_id", "status"),
    [
        ("builtin", ZONE, DomainStatus.REMOVED),
        ("builtin", None, DomainStatus.QUEUED),
        ("powerdns", ZONE, DomainStatus.ACTIVE),
    ],
    ids=["removed", "zone-not-created", "other-provider"],
)
def test_domains_that_are_not_builtin_zones_are_refused(
    db: Database,
    server: BuiltinDnsServer,
    provider: str,
    zone_id: str | None,
    status: DomainStatus,
) -> None:
    add_zone(db, BASIC, provider=provider, zone_id=zone_id, status=status)

    assert ask(server, "acme.com", "A").rcode() == dns.rcode.REFUSED


def test_a_removed_domain_stops_being_answered(db: Database, server: BuiltinDnsServer) -> None:
    domain_id = add_zone(db, BASIC)
    assert ask(server, "acme.com", "A").rcode() == dns.rcode.NOERROR

    change_zone(db, domain_id, status=DomainStatus.REMOVED)

    assert ask(server, "acme.com", "A").rcode() == dns.rcode.REFUSED


# --- changes and the cache ----------------------------------------------------------------------


def test_a_record_change_is_visible_on_the_next_query(
    db: Database, server: BuiltinDnsServer
) -> None:
    domain_id = add_zone(db, BASIC)
    assert only_answer(ask(server, "acme.com", "A"))[0].address == "192.0.2.10"

    with db.transaction() as session:
        session.execute(
            update(DnsRecord)
            .where(DnsRecord.domain_id == domain_id, DnsRecord.type == "A", DnsRecord.name == ZONE)
            .values(content="198.51.100.7")
        )
    change_zone(db, domain_id)

    assert only_answer(ask(server, "acme.com", "A"))[0].address == "198.51.100.7"


def test_cached_zones_answer_without_reading_the_database(
    db: Database, start_server: Callable[..., BuiltinDnsServer]
) -> None:
    add_zone(db, BASIC)
    server = start_server(cache_seconds=60)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        answers = [ask(server, "acme.com", "A").rcode() for _ in range(20)]
        refused = [ask(server, "example.org", "A").rcode() for _ in range(5)]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)

    assert set(answers) == {dns.rcode.NOERROR}
    assert set(refused) == {dns.rcode.REFUSED}
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # One head lookup and one zone load for acme.com, one head lookup for example.org.
    assert len(selects) == 3
