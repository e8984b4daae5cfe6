"""The DnsProvider contract, checked on every implementation (mailfleet/dns/providers/base.py).

Each runs against what it really talks to: `builtin` needs nothing (the database is its zone,
served by mailfleet.dns.server), `powerdns` the real PowerDNS the tests start (pdns_child),
`cloudflare` the local fake of Cloudflare's API. What is checked is the contract the DNS jobs
rely on, not how a provider does it: zone creation is idempotent and says which nameservers to
delegate to, an RRset written is served exactly (and rewriting it changes nothing more),
deletion removes sets and zones, and deleting what is gone is not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from mailfleet.config import Settings
from mailfleet.dns.providers.base import DnsProvider, Zone
from mailfleet.dns.providers.registry import DNS_PROVIDERS
from mailfleet.dns.records import Record, RRset, group_rrsets, rdata_text
from tests.fakes.cloudflare import FakeCloudflare
from tests.support.dns_fixtures import TEST_PAIR
from tests.support.powerdns import PowerDNS

# (name, type, rdata in canonical presentation format): what a zone serves, SOA and NS aside.
Served = set[tuple[str, str, str]]


@dataclass
class Harness:
    registered: str  # the name settings and domains use for it
    provider: DnsProvider
    # What the provider's servers hold for a zone, or None when the zone does not exist there.
    # None for `builtin`: it mirrors nothing; the server answers from the database itself.
    served: Callable[[str], Served | None] | None
    # Whether the zone keeps the pair Mailfleet asked for (Cloudflare assigns its own).
    keeps_pair: bool


def canonical(name: str, rtype: str, text: str) -> tuple[str, str, str]:
    rdata = dns.rdata.from_text(
        dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text, origin=dns.name.root
    )
    return (name.rstrip(".").lower(), rtype, rdata.to_text())


def from_powerdns(server: PowerDNS) -> Callable[[str], Served | None]:
    def served(zone: str) -> Served | None:
        found = server.zone(zone)
        if found is None:
            return None
        return {
            canonical(rrset["name"], rrset["type"], record["content"])
            for rrset in found["rrsets"]
            if rrset["type"] not in ("SOA", "NS")
            for record in rrset["records"]
        }

    return served


def from_cloudflare(fake: FakeCloudflare) -> Callable[[str], Served | None]:
    def text(record: dict[str, Any]) -> str:
        content = str(record["content"])
        if record["type"] == "MX":
            return f"{record['priority']} {content}."
        if record["type"] == "CNAME":
            return content + "."
        if record["type"] == "TXT" and not content.startswith('"'):
            return '"' + content.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return content

    def served(zone: str) -> Served | None:
        if fake.zone_by_name(zone) is None:
            return None
        return {
            canonical(r["name"], r["type"], text(r))
            for r in fake.records_of(zone)
            if r["type"] not in ("SOA", "NS")
        }

    return served


@pytest.fixture(params=["builtin", "powerdns", "cloudflare"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    name = str(request.param)
    if name == "builtin":
        settings = Settings()
        yield Harness(name, DNS_PROVIDERS.build(settings, name), None, keeps_pair=True)
    elif name == "powerdns":
        overrides: dict[str, Any] = request.getfixturevalue("dns_overrides")
        server: PowerDNS = request.getfixturevalue("pdns_child")
        provider = DNS_PROVIDERS.build(Settings(**overrides), name)
        yield Harness(name, provider, from_powerdns(server), keeps_pair=True)
        provider.close()  # type: ignore[attr-defined]
    else:
        with FakeCloudflare() as fake:
            settings = Settings(
                cloudflare_api_token=fake.token,
                cloudflare_account_id=fake.account_id,
                cloudflare_base_url=fake.base_url,
            )
            provider = DNS_PROVIDERS.build(settings, name)
            yield Harness(name, provider, from_cloudflare(fake), keeps_pair=False)
            provider.close()  # type: ignore[attr-defined]


@pytest.fixture
def zone_name(unique_domain: Callable[[str], str]) -> str:
    return unique_domain("conf")


def mail_rrsets(zone: str, spf: str = "v=spf1 mx -all") -> list[RRset]:
    return group_rrsets(
        [
            Record(zone, "MX", f"mx1.{zone}", 3600, priority=10),
            Record(zone, "MX", f"mx2.{zone}", 3600, priority=20),
            Record(zone, "TXT", spf, 3600),
            Record(f"_dmarc.{zone}", "TXT", "v=DMARC1; p=none", 3600),
            Record(f"www.{zone}", "CNAME", f"{zone}.", 300),
            Record(f"track.{zone}", "A", "192.0.2.10", 300),
        ]
    )


def expected(rrsets: list[RRset]) -> Served:
    return {canonical(r.name, r.type, rdata_text(r)) for s in rrsets for r in s.records}


def test_the_provider_has_its_registered_name(harness: Harness) -> None:
    # Domains store it (Domain.dns_provider) to find their zone's provider again.
    assert harness.provider.name == harness.registered


def test_creating_a_zone_twice_is_one_zone(harness: Harness, zone_name: str) -> None:
    first = harness.provider.ensure_zone(zone_name, TEST_PAIR, serial=1)
    again = harness.provider.ensure_zone(zone_name, TEST_PAIR, serial=2)

    assert isinstance(first, Zone)
    assert first.zone_id
    assert again == first
    # Two nameservers to delegate to: the pair asked for, unless the provider assigns its own.
    assert len(first.nameservers) >= 2
    if harness.keeps_pair:
        assert tuple(first.nameservers) == TEST_PAIR
    if harness.served is not None:
        assert harness.served(zone_name) == set()


def test_rrsets_written_are_served_exactly(harness: Harness, zone_name: str) -> None:
    zone = harness.provider.ensure_zone(zone_name, TEST_PAIR, serial=1)
    rrsets = mail_rrsets(zone_name)

    ids = harness.provider.replace_rrsets(zone, zone_name, rrsets)
    # Writing the same again changes nothing (a retried job).
    harness.provider.replace_rrsets(zone, zone_name, rrsets)

    assert isinstance(ids, dict)
    if harness.served is not None:
        assert harness.served(zone_name) == expected(rrsets)


def test_a_replaced_rrset_holds_only_its_new_records(harness: Harness, zone_name: str) -> None:
    zone = harness.provider.ensure_zone(zone_name, TEST_PAIR, serial=1)
    harness.provider.replace_rrsets(zone, zone_name, mail_rrsets(zone_name))
    changed = group_rrsets([Record(zone_name, "TXT", "v=spf1 include:_spf.example.com ~all")])

    harness.provider.replace_rrsets(zone, zone_name, changed, delete=[(f"track.{zone_name}", "A")])

    if harness.served is not None:
        wanted = mail_rrsets(zone_name, spf="v=spf1 include:_spf.example.com ~all")
        served = harness.served(zone_name)
        assert served == expected([s for s in wanted if s.name != f"track.{zone_name}"])


def test_deleting_a_set_that_is_not_there_is_not_an_error(harness: Harness, zone_name: str) -> None:
    zone = harness.provider.ensure_zone(zone_name, TEST_PAIR, serial=1)

    harness.provider.replace_rrsets(zone, zone_name, [], delete=[(f"gone.{zone_name}", "A")])

    if harness.served is not None:
        assert harness.served(zone_name) == set()


def test_a_deleted_zone_is_gone_and_deleting_again_is_fine(
    harness: Harness, zone_name: str
) -> None:
    zone = harness.provider.ensure_zone(zone_name, TEST_PAIR, serial=1)
    harness.provider.replace_rrsets(zone, zone_name, mail_rrsets(zone_name))

    harness.provider.delete_zone(zone, zone_name)
    harness.provider.delete_zone(zone, zone_name)

    if harness.served is not None:
        assert harness.served(zone_name) is None
    # And it can be created again afterwards (a domain removed, then submitted again).
    assert harness.provider.ensure_zone(zone_name, TEST_PAIR, serial=3).zone_id
