"""A zone as an RFC 1035 master file: what `GET /v1/domains/{id}/zone-file` downloads.

Names inside the zone are written relative to $ORIGIN (`@`, `www`, `_dmarc`), others absolute;
record data always carries absolute names, so the file means the same whatever $ORIGIN a reader
applies. The output parses with dns.zone.from_text and BIND's named-checkzone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailfleet.config import Settings
from mailfleet.dns.records import Record, absolute, group_rrsets, rdata_text

# SOA timers (refresh, retry, expire, negative-cache TTL): PowerDNS's defaults, which suit a
# zone that changes rarely; the negative TTL is short so a just-added record shows up fast.
SOA_REFRESH = 10800
SOA_RETRY = 3600
SOA_EXPIRE = 604800
SOA_MINIMUM = 3600
# SOA first, NS next: the order readers (and people) expect at the top of a zone.
TYPE_ORDER = {"SOA": 0, "NS": 1}


@dataclass(frozen=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int = SOA_REFRESH
    retry: int = SOA_RETRY
    expire: int = SOA_EXPIRE
    minimum: int = SOA_MINIMUM

    def rdata(self) -> str:
        return (
            f"{absolute(self.mname)} {absolute(self.rname)} {self.serial} "
            f"{self.refresh} {self.retry} {self.expire} {self.minimum}"
        )


def soa_for(nameserver_1: str, serial: int, settings: Settings) -> Soa:
    # rname is a mailbox written as a name: "hostmaster@x.com" -> "hostmaster.x.com".
    rname = settings.dns_soa_hostmaster.replace("@", ".", 1)
    return Soa(mname=nameserver_1, rname=rname, serial=serial)


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
    rrsets = group_rrsets(record for record in records if record.type != "SOA")
    rrsets.sort(key=lambda rrset: (TYPE_ORDER.get(rrset.type, 2), rrset.name, rrset.type))
    for rrset in rrsets:
        owner = relative_name(rrset.name, origin)
        for record in rrset.records:
            lines.append(f"{owner}\t{rrset.ttl}\tIN\t{record.type}\t{rdata_text(record)}")
    return "\n".join(lines) + "\n"


def export_domain_zone(
    domain_name: str,
    nameserver_1: str,
    serial: int,
    records: Iterable[Record],
    settings: Settings,
) -> str:
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
