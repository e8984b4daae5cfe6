"""The builtin DNS provider: the database is the zone, so every call is bookkeeping only."""

from __future__ import annotations

from mailfleet.dns.providers.base import DnsProvider, Zone
from mailfleet.dns.providers.builtin import BuiltinDnsProvider
from mailfleet.dns.records import Record, group_rrsets


def test_ensure_zone_names_the_zone_after_the_domain_and_keeps_the_pair() -> None:
    provider: DnsProvider = BuiltinDnsProvider()

    zone = provider.ensure_zone("Acme.com.", ["ns1.mf.net", "ns2.mf.net"], serial=3)

    assert provider.name == "builtin"
    assert zone == Zone(zone_id="acme.com", nameservers=("ns1.mf.net", "ns2.mf.net"))
    # Idempotent: asking again gives the same zone.
    assert provider.ensure_zone("acme.com", ["ns1.mf.net", "ns2.mf.net"], serial=4) == zone


def test_records_and_deletion_need_no_remote_calls() -> None:
    provider = BuiltinDnsProvider()
    zone = provider.ensure_zone("acme.com", ["ns1.mf.net", "ns2.mf.net"], serial=1)
    rrsets = group_rrsets([Record("acme.com", "TXT", "v=spf1 mx -all")])

    assert provider.replace_rrsets(zone, "acme.com", rrsets, delete=[("x.acme.com", "A")]) == {}
    provider.delete_zone(zone, "acme.com")  # Nothing to remove: it must simply not fail.
