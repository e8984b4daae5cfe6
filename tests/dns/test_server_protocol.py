"""The builtin authoritative DNS server's protocol: long TXT records, truncation and TCP,
malformed queries, zone transfers, failures and its start (see test_server.py for answers).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns.server import BuiltinDnsServer
from tests.conftest import base_settings
from tests.support.authoritative import (
    BASIC,
    DKIM_2048,
    DKIM_4096,
    HOST,
    add_zone,
    ask,
    only_answer,
    udp_raw,
)

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
