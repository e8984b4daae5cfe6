"""A zone as an RFC 1035 master file: what `GET /v1/domains/{id}/dns/zone` downloads.

Names inside the zone are written relative to $ORIGIN (`@`, `www`, `_dmarc`), others absolute;
record data always carries absolute names, so the file means the same whatever $ORIGIN a reader
applies. The output parses with dns.zone.from_text and BIND's named-checkzone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mailfleet.config import Settings
from mailfleet.dns.records import Record, absolute, group_rrsets, rdata_text
from mailfleet.dns.soa import Soa, zone_soa

__all__ = ["Soa", "export_domain_zone", "export_zone", "relative_name", "soa_for"]

# SOA first, NS next: the order readers (and people) expect at the top of a zone.
TYPE_ORDER = {"SOA": 0, "NS": 1}


def soa_for(nameserver_1: str, serial: int, settings: Settings) -> Soa:
    """The zone's SOA as the builtin server serves it (one source: `dns.soa`)."""
    return zone_soa(nameserver_1, settings.dns_soa_hostmaster, serial)


def export_zone(
    origin: str,
    records: Iterable[Record],
    *,
    soa: Soa,
    default_ttl: int,
) -> str:
    """The zone's master file text: $ORIGIN, $TTL, SOA, then every record grouped by RRset."""
    origin = origin.rstrip(".").lower()
    lines = [
        f"$ORIGIN {absolute(origin)}",
        f"$TTL {default_ttl}",
        f"@\t{default_ttl}\tIN\tSOA\t{soa.rdata()}",
    ]
    rrsets = group_rrsets(record for record in records if _belongs(record, origin))
    rrsets.sort(key=lambda rrset: (TYPE_ORDER.get(rrset.type, 2), rrset.name, rrset.type))
    for rrset in rrsets:
        owner = relative_name(rrset.name, origin)
        for record in rrset.records:
            lines.append(f"{owner}\t{rrset.ttl}\tIN\t{record.type}\t{rdata_text(record)}")
    return "\n".join(lines) + "\n"


def _belongs(record: Record, origin: str) -> bool:
    """What the builtin server serves too: the SOA is written once, from `soa`; records
    outside the zone and a CNAME at the apex (it would hide the SOA and NS) are left out."""
    name = record.name.rstrip(".").lower()
    if record.type == "SOA" or (record.type == "CNAME" and name == origin):
        return False
    return name == origin or name.endswith("." + origin)


def export_domain_zone(
    domain_name: str,
    nameserver_1: str,
    serial: int,
    records: Iterable[Record],
    settings: Settings,
    *,
    nameservers: Sequence[str] = (),
) -> str:
    """A domain's zone file; with no apex NS among `records`, `nameservers` are written as the
    apex NS set, as the builtin server synthesizes it."""
    records = list(records)
    apex = domain_name.rstrip(".").lower()
    if not any(r.type == "NS" and r.name.rstrip(".").lower() == apex for r in records):
        ttl = settings.dns_default_ttl
        records += [Record(apex, "NS", host.rstrip(".").lower(), ttl) for host in nameservers]
    return export_zone(
        domain_name,
        records,
        soa=soa_for(nameserver_1, serial, settings),
        default_ttl=settings.dns_default_ttl,
    )


def relative_name(name: str, origin: str) -> str:
    """`@` for the apex, the labels before it for names inside, the absolute name otherwise."""
    name = name.rstrip(".").lower()
    if name == origin:
        return "@"
    if name.endswith("." + origin):
        return name[: -len(origin) - 1]
    return absolute(name)
