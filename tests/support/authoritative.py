"""Zones of the builtin authoritative DNS server and dnspython queries to it, for its tests."""

from __future__ import annotations

import base64
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
from sqlalchemy import update

from mailfleet.db import Database
from mailfleet.dns.server import BuiltinDnsServer
from mailfleet.models import Domain, DomainStatus
from mailfleet.models.domain import DnsRecord
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
