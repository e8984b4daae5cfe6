"""Local TLDs: the builtin DNS server plays the registry of each TLD in `settings.local_tlds`.

Why: on one machine (the demo, the test suite, a closed network) no real registry delegates
`acme.test` to Mailfleet, so a domain would wait in PENDING_NS forever. With
`MAILFLEET_LOCAL_TLDS=test`, the builtin server also answers for the zone `test.` the way its
registry would, and the ordinary delegation check passes for real, asking only this machine.

How it works:
- the TLD zone is synthesized from the database: SOA and NS at the apex (`a.nic.<tld>`,
  `b.nic.<tld>`, both at the builtin server's address), and for every domain under the TLD that
  is not REMOVED an NS set to its assigned nameserver pair. That is a zone cut, so a query at
  or under a domain gets a referral (NS in the authority section, AA clear), with glue A/AAAA
  records for nameservers under the TLD that `settings.dns_nameserver_addresses` maps
  (`ns1.mailfleet.test=127.0.0.1`); names under the TLD that are not domains get NXDOMAIN with
  the TLD's SOA.
- a zone the builtin provider hosts is more specific than the TLD, so the server answers
  questions inside it from the domain's own zone (authoritative, AA set), exactly as a server
  hosting both parent and child does; a domain whose zone is not created yet, or lives at
  another provider, gets the referral.
- `zonestore.ZoneStore` keeps the synthesized zone for `cache_seconds` (1 s in `mailfleet
  serve`), then reads the domains again: a newly submitted domain is referred within a second.
- the delegation check (`dns.delegation`) takes the builtin server itself
  (`dns_server_host:dns_server_port`) as the parent of a local TLD unless
  `MAILFLEET_DNS_PARENT_SERVERS` names other servers for it.

So with `MAILFLEET_LOCAL_TLDS=test`, the builtin provider and
`MAILFLEET_NAMESERVER_PAIRS="ns1.mailfleet.test ns2.mailfleet.test"`, a submitted `acme.test`
goes QUEUED -> PENDING_NS -> ACTIVE on its own, through the real check.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Final

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from sqlalchemy import select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns.addresses import builtin_server, normalise, parse_server
from mailfleet.models import Domain, DomainStatus

# The TLD zone is not a domain row; its ZoneData carries this id.
TLD_ZONE_ID: Final = uuid.UUID(int=0)
REGISTRY_SERVERS: Final = ("a.nic", "b.nic")
IN = dns.rdataclass.IN


def local_tld_of(name: str, settings: Settings) -> str | None:
    """The local TLD `name` is at or under, if any."""
    tld = normalise(name).rpartition(".")[2]
    return tld if tld and tld in settings.local_tlds else None


def registry_servers(tld: str) -> list[str]:
    return [f"{label}.{tld}" for label in REGISTRY_SERVERS]


def read_delegations(database: Database, tld: str) -> list[tuple[str, str, str]]:
    """(name, nameserver 1, nameserver 2) of every live domain under the TLD (in an executor)."""
    pattern = "%." + tld.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    statement = (
        select(Domain.name, Domain.nameserver_1, Domain.nameserver_2)
        .where(Domain.status != DomainStatus.REMOVED, Domain.name.like(pattern, escape="\\"))
        .order_by(Domain.name)
    )
    with database.session(write=False) as session:
        return [(row[0], row[1], row[2]) for row in session.execute(statement)]


def zone_records(
    settings: Settings, tld: str, delegations: Iterable[tuple[str, str, str]]
) -> list[tuple[dns.name.Name, dns.rdata.Rdata]]:
    """The TLD zone's records but the SOA: apex NS, one NS set per domain, glue."""
    origin = dns.name.from_text(tld + ".")
    records: list[tuple[dns.name.Name, dns.rdata.Rdata]] = []
    hosts: set[str] = set()
    for host in registry_servers(tld):
        records.append((origin, _rdata("NS", host)))
        hosts.add(host)
    for name, ns1, ns2 in delegations:
        owner = dns.name.from_text(normalise(name) + ".")
        if owner == origin or not owner.is_subdomain(origin):
            continue
        for host in (ns1, ns2):
            if host:
                records.append((owner, _rdata("NS", host)))
                hosts.add(normalise(host))
    for host in sorted(hosts):
        owner = dns.name.from_text(host + ".")
        if owner.is_subdomain(origin):
            records += [(owner, address) for address in _glue(settings, host, tld)]
    return records


def serial() -> int:
    # The zone is rebuilt from the database whenever it is reloaded; time orders the versions.
    return int(time.time()) % 2**32


def _rdata(rdtype: str, host: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text(IN, rdtype, normalise(host) + ".")


def _glue(settings: Settings, host: str, tld: str) -> list[dns.rdata.Rdata]:
    addresses: Sequence[str] = settings.dns_nameserver_addresses.get(host, [])
    if not addresses and host in registry_servers(tld):
        addresses = [builtin_server(settings)[0]]
    glue = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(parse_server(text)[0])
        except ValueError:
            continue
        rdtype = "A" if address.version == 4 else "AAAA"
        glue.append(dns.rdata.from_text(IN, rdtype, str(address)))
    return glue
