"""The builtin authoritative DNS server, queried over real sockets with dnspython.

Each test starts a server on 127.0.0.1, port 0, over the test database (SQLite and PostgreSQL).
Most servers check zone serials on every query (`cache_seconds=0`) so a change made by the test
is visible at once; one test measures the cache itself.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
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

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns.server import BuiltinDnsServer
from mailfleet.models import Domain, DomainStatus
from mailfleet.models.domain import DnsRecord
from tests.conftest import base_settings
from tests.factories import make_domain, make_tenant

ZONE = "acme.com"
HOST = "127.0.0.1"
# (name, type, content, ttl, priority)
RecordRow = tuple[str, str, str, int, int | None]

DKIM_2048 = "v=DKIM1; k=rsa; p=" + base64.b64encode(os.urandom(294)).decode()  # 392 chars
DKIM_4096 = "v=DKIM1; k=rsa; p=" + base64.b64encode(os.urandom(550)).decode()  # 736 chars

BASIC: list[RecordRow] = [
    (ZONE, "A", "192.0.2.10", 300, None),
    (ZONE, "MX", "mx2.acme.com", 3600, 20),
    (ZONE, "MX", "mx1.acme.com", 3600, 10),
    (ZONE, "TXT", "v=spf1 mx -all", 3600, None),
    ("mx1.acme.com", "A", "192.0.2.25", 3600, None),
    ("www.acme.com", "CNAME", "acme.com", 3600, None),
    ("mailfleet._domainkey.acme.com", "TXT", DKIM_2048, 3600, None),
    ("_dmarc.acme.com", "TXT", "v=DMARC1; p=none", 3600, None),
]


def add_zone(
    db: Database,
    records: Sequence[RecordRow] = (),
    *,
    name: str = ZONE,
    serial: int = 7,
    provider: str = "builtin",
    zone_id: str | None = ZONE,
    status: DomainStatus = DomainStatus.ACTIVE,
) -> uuid.UUID:
    workspace_id = make_tenant(db).workspace_id
    domain = make_domain(db, workspace_id, name=name, status=status)
    with db.transaction() as session:
        session.execute(
            update(Domain)
            .where(Domain.id == domain.id)
            .values(dns_provider=provider, zone_id=zone_id, dns_serial=serial)
        )
        for owner, rtype, content, ttl, priority in records:
            session.add(
                DnsRecord(
                    workspace_id=workspace_id,
                    domain_id=domain.id,
                    name=owner,
                    type=rtype,
                    content=content,
                    ttl=ttl,
                    priority=priority,
                )
            )
    return domain.id


def change_zone(db: Database, domain_id: uuid.UUID, **values: Any) -> None:
    """Update the domain row the way the services do: with the serial bumped."""
    with db.transaction() as session:
        session.execute(
            update(Domain)
            .where(Domain.id == domain_id)
            .values(dns_serial=Domain.dns_serial + 1, **values)
        )


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


def ask(
    server: BuiltinDnsServer,
    name: str,
    rdtype: str = "A",
    *,
    tcp: bool = False,
    recursive: bool = False,
    **query_options: Any,
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **query_options)
    if not recursive:
        query.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(query, HOST, port=server.port, timeout=3)
    return dns.query.udp(query, HOST, port=server.port, timeout=3)


def only_answer(response: dns.message.Message) -> Any:
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert len(response.answer) == 1
    return response.answer[0]


def udp_raw(server: BuiltinDnsServer, payload: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(payload, (HOST, server.port))
        return sock.recv(65535)


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


# --- long TXT, truncation, TCP -------------------------------------------------------------------


def test_2048_bit_dkim_key_is_split_into_255_byte_strings(
    db: Database, server: BuiltinDnsServer
) -> None:
    add_zone(db, BASIC)

    response = ask(server, "mailfleet._domainkey.acme.com", "TXT")

    (rdata,) = only_answer(response)
    assert not response.flags & dns.flags.TC
    assert [len(s) for s in rdata.strings] == [255, len(DKIM_2048) - 255]
    assert b"".join(rdata.strings).decode() == DKIM_2048


def test_answer_too_big_for_udp_is_truncated_and_tcp_serves_it(
    db: Database, server: BuiltinDnsServer
) -> None:
    add_zone(db, [("big._domainkey.acme.com", "TXT", DKIM_4096, 3600, None)])
    name = "big._domainkey.acme.com"

    plain_udp = ask(server, name, "TXT")
    over_tcp = ask(server, name, "TXT", tcp=True)
    edns_udp = ask(server, name, "TXT", use_edns=0, payload=4096)
    small_edns_udp = ask(server, name, "TXT", use_edns=0, payload=512)

    for truncated in (plain_udp, small_edns_udp):
        assert truncated.flags & dns.flags.TC
        assert truncated.answer == []
    for response in (over_tcp, edns_udp):
        (rdata,) = only_answer(response)
        assert not response.flags & dns.flags.TC
        assert b"".join(rdata.strings).decode() == DKIM_4096


def test_edns_is_echoed(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    with_edns = ask(server, "acme.com", "A", use_edns=0, payload=1400)
    without = ask(server, "acme.com", "A")

    assert with_edns.edns == 0
    assert with_edns.payload >= 512
    assert without.edns == -1


def test_unknown_edns_version_gets_badvers(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    response = ask(server, "acme.com", "A", use_edns=1)

    assert response.rcode() == dns.rcode.BADVERS
    assert response.edns == 0


def test_tcp_connection_carries_several_queries(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)
    queries = [dns.message.make_query(name, "A") for name in ("acme.com", "mx1.acme.com")]

    with socket.create_connection((HOST, server.port), timeout=3) as sock:
        for query in queries:
            wire = query.to_wire()
            sock.sendall(struct.pack("!H", len(wire)) + wire)
        responses = [dns.query.receive_tcp(sock, expiration=None)[0] for _ in queries]

    assert [r.id for r in responses] == [q.id for q in queries]
    assert [only_answer(r)[0].address for r in responses] == ["192.0.2.10", "192.0.2.25"]


# --- malformed and unsupported ----------------------------------------------------------------


def test_garbage_gets_formerr(server: BuiltinDnsServer) -> None:
    header = struct.pack("!HHHHHH", 0xBEEF, 0, 1, 0, 0, 0)

    reply = udp_raw(server, header + b"\x07garbage")

    query_id, flags = struct.unpack("!HH", reply[:4])
    assert query_id == 0xBEEF
    assert flags & dns.flags.QR
    assert flags & 0xF == dns.rcode.FORMERR


def test_non_query_opcodes_get_notimp(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)
    notify = dns.message.make_query("acme.com", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)

    response = dns.message.from_wire(udp_raw(server, notify.to_wire()))

    assert response.id == notify.id
    assert response.opcode() == dns.opcode.NOTIFY
    assert response.rcode() == dns.rcode.NOTIMP


# --- zone transfers ---------------------------------------------------------------------------


def test_axfr_is_refused_to_strangers(db: Database, server: BuiltinDnsServer) -> None:
    add_zone(db, BASIC)

    over_tcp = ask(server, "acme.com", "AXFR", tcp=True)
    over_udp = ask(server, "acme.com", "AXFR")

    assert over_tcp.rcode() == dns.rcode.REFUSED
    assert over_udp.rcode() == dns.rcode.REFUSED
    assert over_tcp.answer == []


def test_axfr_serves_the_whole_zone_to_allowed_clients(
    db: Database, start_server: Callable[..., BuiltinDnsServer]
) -> None:
    many = [
        (f"host{i}.acme.com", "TXT", f"record {i} " + "x" * 100, 3600, None) for i in range(300)
    ]
    add_zone(db, [*BASIC, *many], serial=12)
    server = start_server(dns_transfer_allowed=["127.0.0.0/8"])

    messages = list(dns.query.xfr(HOST, "acme.com", port=server.port, timeout=5))
    zone = dns.zone.from_xfr(iter(messages))

    # 300 TXT records of ~110 bytes do not fit one 16 kB message.
    assert len(messages) > 1
    assert messages[0].answer[0].rdtype == dns.rdatatype.SOA
    assert messages[-1].answer[-1].rdtype == dns.rdatatype.SOA
    assert zone.get_soa().serial == 12
    assert zone.find_rdataset("mx1", "A")[0].address == "192.0.2.25"
    assert len(zone.find_rdataset("@", "MX")) == 2
    dkim = zone.find_rdataset("mailfleet._domainkey", "TXT")[0]
    assert b"".join(dkim.strings).decode() == DKIM_2048
    assert len(zone.find_rdataset("host299", "TXT")) == 1


def test_ixfr_from_an_up_to_date_client_gets_just_the_soa(
    db: Database, start_server: Callable[..., BuiltinDnsServer]
) -> None:
    add_zone(db, BASIC, serial=12)
    server = start_server(dns_transfer_allowed=["127.0.0.1"])
    query = dns.message.make_query("acme.com", "IXFR")
    query.authority.append(only_answer(ask(server, "acme.com", "SOA")))

    response = dns.query.tcp(query, HOST, port=server.port, timeout=3)

    (soa,) = response.answer
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa[0].serial == 12


def test_transfers_need_tcp_and_a_zone_apex(
    db: Database, start_server: Callable[..., BuiltinDnsServer]
) -> None:
    add_zone(db, BASIC)
    server = start_server(dns_transfer_allowed=["127.0.0.1"])

    not_apex = ask(server, "www.acme.com", "AXFR", tcp=True)
    over_udp = ask(server, "acme.com", "AXFR")

    assert not_apex.rcode() == dns.rcode.NOTAUTH
    # Truncated and empty: the client is told to come back over TCP.
    assert over_udp.flags & dns.flags.TC
    assert over_udp.answer == []


def test_database_failure_is_servfail(tmp_path: Path) -> None:
    # A database without the schema: every read fails.
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    settings = base_settings(tmp_path, url, dns_server_host=HOST, dns_server_port=0)
    broken = Database(settings)
    server = BuiltinDnsServer(settings, broken)
    server.start()
    try:
        response = ask(server, "acme.com", "A")
    finally:
        server.stop()
        broken.dispose()

    assert response.rcode() == dns.rcode.SERVFAIL
    assert not response.flags & dns.flags.AA


# --- lifecycle -----------------------------------------------------------------------------------


def test_port_zero_binds_udp_and_tcp_on_the_same_free_port(
    db: Database, start_server: Callable[..., BuiltinDnsServer]
) -> None:
    add_zone(db, BASIC)
    server = start_server()

    assert server.port > 0
    assert ask(server, "acme.com", "A").rcode() == dns.rcode.NOERROR
    assert ask(server, "acme.com", "A", tcp=True).rcode() == dns.rcode.NOERROR
    port = server.port
    server.stop()
    # The port is free again once stopped.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, port))


def test_start_fails_loudly_when_the_port_is_taken(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
        settings = make_settings(dns_server_host=HOST, dns_server_port=port)
        with pytest.raises(OSError, match="in use"):
            BuiltinDnsServer(settings, db).start()
