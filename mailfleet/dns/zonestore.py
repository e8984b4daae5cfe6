"""The builtin DNS server's view of the database: which zones exist and what they hold.

Zones are read from the database and kept in memory as ready-to-send dnspython RRsets.

Invalidation. Every change to a zone's records bumps `Domain.dns_serial` (the domain services
guarantee it), so a zone's contents are cached under (domain id, serial) and only ever reloaded
when the serial moves. What can go stale is the small "zone head" (id and serial per name): a
head is trusted for `cache_seconds` and then checked again with one indexed query. A change is
therefore answered at most `cache_seconds` after its commit, and an idle server does not read
the database at all.

Threading. `ZoneStore` is used from the server's event loop thread only; the blocking database
reads (`_read_heads`, `_read_zone`) run in an executor and just return rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Final

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from sqlalchemy import select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns import localtld
from mailfleet.dns import soa as soa_values
from mailfleet.dns.records import Record, rdata_text
from mailfleet.models import Domain, DomainStatus
from mailfleet.models.domain import DnsRecord

log = logging.getLogger(__name__)

PROVIDER = "builtin"
# The SOA timers live in `dns.soa`, shared with the zone file export and PowerDNS.
SOA_MINIMUM: Final = soa_values.MINIMUM
# Above this many cached heads the cache starts over, so random names cannot grow it forever.
MAX_CACHED_HEADS: Final = 50_000

IN = dns.rdataclass.IN
SOA = dns.rdatatype.SOA
NS = dns.rdatatype.NS
CNAME = dns.rdatatype.CNAME


@dataclass(frozen=True)
class ZoneHead:
    """Just enough to tell whether a cached zone is current."""

    domain_id: uuid.UUID
    name: str
    serial: int


@dataclass
class ZoneData:
    """One zone, ready to answer from: every RRset by owner name and type."""

    origin: dns.name.Name
    domain_id: uuid.UUID
    serial: int
    soa: dns.rrset.RRset
    nodes: dict[dns.name.Name, dict[int, dns.rrset.RRset]]
    # Names with no records of their own but records below them (`_domainkey.acme.com`).
    empty_non_terminals: set[dns.name.Name] = field(default_factory=set)
    # Names below the apex with NS records: delegated away, answered with a referral.
    cuts: set[dns.name.Name] = field(default_factory=set)

    # The SOA sent with NXDOMAIN and NODATA, its TTL capped by the minimum (RFC 2308 section 3).
    negative_soa: dns.rrset.RRset = field(init=False)

    def __post_init__(self) -> None:
        ttl = min(self.soa.ttl, SOA_MINIMUM)
        self.negative_soa = dns.rrset.from_rdata_list(self.origin, ttl, list(self.soa))

    def exists(self, name: dns.name.Name) -> bool:
        return name in self.nodes or name in self.empty_non_terminals

    def rrsets(self) -> list[dns.rrset.RRset]:
        """Every RRset but the SOA, apex first: the body of a zone transfer."""
        ordered = sorted(self.nodes.items(), key=lambda item: item[0])
        return [rrset for _, node in ordered for rdtype, rrset in node.items() if rdtype != SOA]


# --- building a zone from rows -----------------------------------------------------------


def hostmaster_name(hostmaster: str) -> dns.name.Name:
    """The SOA RNAME: `hostmaster@example.com` or already `hostmaster.example.com`."""
    return dns.name.from_text(soa_values.hostmaster_name(hostmaster))


def soa_rrset(
    origin: dns.name.Name, mname: str, settings: Settings, serial: int
) -> dns.rrset.RRset:
    text = soa_values.zone_soa(mname, settings.dns_soa_hostmaster, serial).rdata()
    return dns.rrset.from_text(origin, settings.dns_default_ttl, IN, SOA, text)


def _rdata(record: Record) -> dns.rdata.Rdata:
    return dns.rdata.from_text(IN, dns.rdatatype.from_text(record.type), rdata_text(record))


def _add(
    nodes: dict[dns.name.Name, dict[int, dns.rrset.RRset]],
    name: dns.name.Name,
    rdata: dns.rdata.Rdata,
    ttl: int,
) -> None:
    node = nodes.setdefault(name, {})
    rrset = node.get(rdata.rdtype)
    if rrset is None:
        rrset = node[rdata.rdtype] = dns.rrset.RRset(name, IN, rdata.rdtype)
    # An RRset has one TTL (RFC 2181 5.2): the lowest of its records.
    rrset.add(rdata, ttl)


def _owner(origin: dns.name.Name, record: Record) -> dns.name.Name | None:
    try:
        name = dns.name.from_text(record.name.rstrip(".") + ".")
    except dns.exception.DNSException:
        return None
    return name if name.is_subdomain(origin) else None


def build_zone(
    settings: Settings,
    *,
    domain_id: uuid.UUID,
    zone_name: str,
    serial: int,
    nameservers: Sequence[str],
    records: Iterable[Record],
) -> ZoneData:
    """The zone as served: stored records plus the synthesized apex SOA (and NS if none).

    A record that does not parse, lies outside the zone or cannot live where it is stored is
    skipped with a warning: one bad row must not take the whole zone down.
    """
    origin = dns.name.from_text(zone_name.rstrip(".") + ".")
    nodes: dict[dns.name.Name, dict[int, dns.rrset.RRset]] = {}
    for record in records:
        owner = _owner(origin, record)
        # The SOA is ours to write; a CNAME at the apex would hide the SOA and NS.
        misplaced = record.type == "SOA" or (record.type == "CNAME" and owner == origin)
        if owner is None or misplaced:
            log.warning("zone %s: skipping %s record %s", zone_name, record.type, record.name)
            continue
        try:
            _add(nodes, owner, _rdata(record), record.ttl)
        except (dns.exception.DNSException, ValueError) as exc:
            log.warning("zone %s: bad %s record %s: %s", zone_name, record.type, record.name, exc)
    soa = soa_rrset(origin, nameservers[0], settings, serial)
    apex = nodes.setdefault(origin, {})
    apex[SOA] = soa
    if NS not in apex:
        for host in nameservers:
            _add(nodes, origin, dns.rdata.from_text(IN, NS, host.rstrip(".") + "."), soa.ttl)
    zone = ZoneData(origin, domain_id, serial, soa, nodes)
    _index_tree(zone)
    return zone


def build_tld_zone(
    settings: Settings, tld: str, delegations: Iterable[tuple[str, str, str]]
) -> ZoneData:
    """A local TLD's zone, as its registry would serve it (see `dns.localtld`)."""
    origin = dns.name.from_text(tld + ".")
    nodes: dict[dns.name.Name, dict[int, dns.rrset.RRset]] = {}
    ttl = settings.dns_default_ttl
    for owner, rdata in localtld.zone_records(settings, tld, delegations):
        _add(nodes, owner, rdata, ttl)
    serial = localtld.serial()
    soa = soa_rrset(origin, localtld.registry_servers(tld)[0], settings, serial)
    nodes.setdefault(origin, {})[SOA] = soa
    zone = ZoneData(origin, localtld.TLD_ZONE_ID, serial, soa, nodes)
    _index_tree(zone)
    return zone


def _index_tree(zone: ZoneData) -> None:
    for name, node in zone.nodes.items():
        if name != zone.origin and NS in node:
            zone.cuts.add(name)
        parent = name
        while parent != zone.origin:
            parent = parent.parent()
            if parent not in zone.nodes:
                zone.empty_non_terminals.add(parent)


# --- the database reads (run in the executor) ---------------------------------------------


def _read_heads(database: Database, names: Sequence[str]) -> list[ZoneHead]:
    statement = select(Domain.id, Domain.name, Domain.dns_serial).where(
        Domain.name.in_(names),
        Domain.dns_provider == PROVIDER,
        Domain.zone_id.is_not(None),
        Domain.status != DomainStatus.REMOVED,
    )
    with database.session(write=False) as session:
        return [ZoneHead(row.id, row.name, row.dns_serial) for row in session.execute(statement)]


def _read_zone(database: Database, settings: Settings, domain_id: uuid.UUID) -> ZoneData | None:
    # One statement, so the serial and the records come from the same snapshot on every
    # backend: a zone is never cached under a serial newer than its records.
    statement = (
        select(
            Domain.name.label("zone"),
            Domain.dns_serial,
            Domain.nameserver_1,
            Domain.nameserver_2,
            DnsRecord.name,
            DnsRecord.type,
            DnsRecord.content,
            DnsRecord.ttl,
            DnsRecord.priority,
        )
        .outerjoin(DnsRecord, DnsRecord.domain_id == Domain.id)
        .where(Domain.id == domain_id)
    )
    with database.session(write=False) as session:
        rows = session.execute(statement).all()
    if not rows:
        return None
    first = rows[0]
    records = [
        Record(row.name, row.type.upper(), row.content, row.ttl, row.priority)
        for row in rows
        if row.name is not None
    ]
    return build_zone(
        settings,
        domain_id=domain_id,
        zone_name=first.zone,
        serial=first.dns_serial,
        nameservers=[first.nameserver_1, first.nameserver_2],
        records=records,
    )


# --- the cache -----------------------------------------------------------------------------


def candidate_zones(qname: dns.name.Name) -> list[str]:
    """Every suffix of the name that could be a zone, longest first (the root never is)."""
    names = []
    for depth in range(len(qname) - 1, 0, -1):
        suffix = dns.name.Name(qname.labels[-depth - 1 :])
        names.append(suffix.to_text(omit_final_dot=True).lower())
    return names


class _Miss:
    """The cache cannot tell: ask the database."""


MISS: Final = _Miss()


class ZoneStore:
    def __init__(self, settings: Settings, database: Database, *, cache_seconds: float) -> None:
        self.settings = settings
        self.database = database
        self.cache_seconds = cache_seconds
        # Candidate zone name -> (trusted until, head or None when no zone has that name).
        self._heads: dict[str, tuple[float, ZoneHead | None]] = {}
        self._zones: dict[str, ZoneData] = {}
        # One database round trip per name at a time; concurrent queries for it wait on it.
        self._inflight: dict[str, asyncio.Future[ZoneData | None]] = {}
        # Local TLDs (dns.localtld): TLD -> (trusted until, its synthesized zone).
        self._local_tlds = frozenset(settings.local_tlds)
        self._tlds: dict[str, tuple[float, ZoneData]] = {}

    def cached(self, qname: dns.name.Name) -> ZoneData | None | _Miss:
        """The zone for the name if the cache can tell for sure, None if no zone holds it,
        MISS if the database must be asked (see `lookup`)."""
        now = time.monotonic()
        for candidate in candidate_zones(qname):
            entry = self._heads.get(candidate)
            if entry is None or entry[0] < now:
                return MISS
            head = entry[1]
            if head is not None:
                zone = self._zones.get(candidate)
                return zone if zone is not None and _current(zone, head) else MISS
            if candidate in self._local_tlds:
                tld = self._tlds.get(candidate)
                return tld[1] if tld is not None and tld[0] >= now else MISS
        return None

    async def lookup(self, qname: dns.name.Name, executor: Executor) -> ZoneData | None:
        """The zone holding the name (longest suffix wins), from the database if need be."""
        zone = self.cached(qname)
        if not isinstance(zone, _Miss):
            return zone
        key = qname.to_text().lower()
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ZoneData | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._refresh(qname, executor)
            future.set_result(result)
            return result
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            # Nobody else may be waiting; mark the exception retrieved to keep asyncio quiet.
            future.exception()
            raise
        finally:
            del self._inflight[key]

    async def _refresh(self, qname: dns.name.Name, executor: Executor) -> ZoneData | None:
        loop = asyncio.get_running_loop()
        candidates = candidate_zones(qname)
        heads = await loop.run_in_executor(executor, _read_heads, self.database, candidates)
        found = {head.name: head for head in heads}
        if len(self._heads) > MAX_CACHED_HEADS:
            self._heads.clear()
        expires = time.monotonic() + self.cache_seconds
        for candidate in candidates:
            self._heads[candidate] = (expires, found.get(candidate))
            if candidate not in found:
                # Removed, or moved to another provider: the zone leaves memory too.
                self._zones.pop(candidate, None)
        head = next((found[name] for name in candidates if name in found), None)
        if head is None:
            tld = candidates[-1] if candidates else ""
            return await self._tld_zone(tld, executor) if tld in self._local_tlds else None
        zone = self._zones.get(head.name)
        if zone is None or not _current(zone, head):
            zone = await loop.run_in_executor(
                executor, _read_zone, self.database, self.settings, head.domain_id
            )
            if zone is None:
                self._zones.pop(head.name, None)
                return None
            self._zones[head.name] = zone
            # The zone was read after the head and may be newer: trust what was loaded.
            self._heads[head.name] = (expires, ZoneHead(head.domain_id, head.name, zone.serial))
        return zone

    async def _tld_zone(self, tld: str, executor: Executor) -> ZoneData:
        """The local TLD's zone, read again once `cache_seconds` have passed."""
        cached = self._tlds.get(tld)
        if cached is not None and cached[0] >= time.monotonic():
            return cached[1]
        loop = asyncio.get_running_loop()
        delegations = await loop.run_in_executor(
            executor, localtld.read_delegations, self.database, tld
        )
        zone = build_tld_zone(self.settings, tld, delegations)
        self._tlds[tld] = (time.monotonic() + self.cache_seconds, zone)
        return zone

    def clear(self) -> None:
        self._heads.clear()
        self._zones.clear()
        self._tlds.clear()


def _current(zone: ZoneData, head: ZoneHead) -> bool:
    return zone.domain_id == head.domain_id and zone.serial == head.serial
