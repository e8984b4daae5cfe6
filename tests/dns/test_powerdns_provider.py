"""The PowerDNS provider against a real pdns_server (pdns_child), checked with dnspython."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailfleet.config import Settings
from mailfleet.dns.providers.base import DnsProviderError, Zone
from mailfleet.dns.providers.powerdns import PowerDnsProvider
from mailfleet.dns.records import Record, RRset
from tests.support.dns_fixtures import TEST_PAIR
from tests.support.powerdns import PowerDNS
from tests.support.servers import free_port


@pytest.fixture
def provider(dns_overrides: dict[str, Any]) -> Iterator[PowerDnsProvider]:
    with PowerDnsProvider(Settings(**dns_overrides)) as provider:
        yield provider


def ask(server: PowerDNS, name: str, rdtype: str) -> dns.message.Message:
    """A non-recursive query straight to the server, as a resolver would send it."""
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    return dns.query.udp(query, server.host, port=server.dns_port, timeout=2)


def answer_texts(response: dns.message.Message, rdtype: str) -> list[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    return sorted(
        rd.to_text() for rrset in response.answer if rrset.rdtype == wanted for rd in rrset
    )


def rrset(
    name: str, rtype: str, *contents: str, ttl: int = 300, priority: int | None = None
) -> RRset:
    records = [Record(name, rtype, content, ttl, priority) for content in contents]
    return RRset(name, rtype, ttl, records)


def test_ensure_zone_twice_is_one_zone(
    provider: PowerDnsProvider, pdns_child: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    name = unique_domain("zone")

    first = provider.ensure_zone(name, TEST_PAIR, serial=1)
    second = provider.ensure_zone(name, TEST_PAIR, serial=1)

    assert first == second
    assert first.zone_id == f"{name}."
    assert first.nameservers == TEST_PAIR
    assert pdns_child.zones().count(f"{name}.") == 1
    soa = ask(pdns_child, name, "SOA")
    assert soa.flags & dns.flags.AA
    assert soa.answer[0][0].mname.to_text() == f"{TEST_PAIR[0]}."
    assert answer_texts(ask(pdns_child, name, "NS"), "NS") == [f"{ns}." for ns in TEST_PAIR]


def test_existing_zone_returns_the_nameservers_it_serves(
    provider: PowerDnsProvider, pdns_child: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    name = unique_domain("other")
    pdns_child.create_zone(name, ["ns1.elsewhere.test", "ns2.elsewhere.test"])

    zone = provider.ensure_zone(name, TEST_PAIR, serial=1)

    assert zone.nameservers == ("ns1.elsewhere.test", "ns2.elsewhere.test")


def test_replace_and_delete_rrsets_are_served(
    provider: PowerDnsProvider, pdns_child: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    name = unique_domain("records")
    zone = provider.ensure_zone(name, TEST_PAIR, serial=1)
    serial_before = ask(pdns_child, name, "SOA").answer[0][0].serial

    provider.replace_rrsets(
        zone,
        name,
        [
            rrset(name, "MX", f"mail.{name}", priority=10),
            rrset(name, "TXT", "v=spf1 mx -all"),
            rrset(f"www.{name}", "A", "192.0.2.1", "192.0.2.2"),
        ],
    )

    mx = ask(pdns_child, name, "MX")
    assert mx.flags & dns.flags.AA
    assert answer_texts(mx, "MX") == [f"10 mail.{name}."]
    assert answer_texts(ask(pdns_child, name, "TXT"), "TXT") == ['"v=spf1 mx -all"']
    assert answer_texts(ask(pdns_child, f"www.{name}", "A"), "A") == ["192.0.2.1", "192.0.2.2"]
    assert ask(pdns_child, name, "SOA").answer[0][0].serial > serial_before

    provider.replace_rrsets(
        zone,
        name,
        [rrset(f"www.{name}", "A", "192.0.2.3")],
        delete=[(name, "MX"), (f"www.{name}", "A")],
    )

    www = ask(pdns_child, f"www.{name}", "A")
    assert answer_texts(www, "A") == ["192.0.2.3"], "a set both replaced and deleted is kept"
    no_mx = ask(pdns_child, name, "MX")
    assert no_mx.rcode() == dns.rcode.NOERROR
    assert no_mx.flags & dns.flags.AA
    assert no_mx.answer == []
    assert answer_texts(ask(pdns_child, name, "TXT"), "TXT") == ['"v=spf1 mx -all"']


def test_dkim_sized_txt_is_split_and_reassembles(
    provider: PowerDnsProvider, pdns_child: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    name = unique_domain("dkim")
    zone = provider.ensure_zone(name, TEST_PAIR, serial=1)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    value = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    assert len(value) > 255
    host = f"mailfleet._domainkey.{name}"

    provider.replace_rrsets(zone, name, [rrset(host, "TXT", value)])

    response = ask(pdns_child, host, "TXT")
    assert response.flags & dns.flags.AA
    (txt,) = list(response.answer[0])
    assert len(txt.strings) == 2
    assert all(len(part) <= 255 for part in txt.strings)
    assert b"".join(txt.strings).decode() == value


def test_delete_zone_twice(
    provider: PowerDnsProvider, pdns_child: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    name = unique_domain("gone")
    zone = provider.ensure_zone(name, TEST_PAIR, serial=1)

    provider.delete_zone(zone, name)
    provider.delete_zone(zone, name)

    assert pdns_child.zone(name) is None
    assert ask(pdns_child, name, "SOA").rcode() == dns.rcode.REFUSED


def test_bad_record_is_a_permanent_error_with_powerdns_message(
    provider: PowerDnsProvider, pdns_child: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    name = unique_domain("bad")
    zone = provider.ensure_zone(name, TEST_PAIR, serial=1)

    with pytest.raises(DnsProviderError) as caught:
        provider.replace_rrsets(zone, name, [rrset(f"www.{name}", "A", "not-an-address")])

    assert caught.value.retryable is False
    assert "HTTP 422" in str(caught.value)
    assert "not-an-address" in str(caught.value)
    assert ask(pdns_child, f"www.{name}", "A").answer == []


def test_wrong_api_key_is_permanent(
    dns_overrides: dict[str, Any], unique_domain: Callable[[str], str]
) -> None:
    settings = Settings(**{**dns_overrides, "powerdns_api_key": "wrong"})
    with PowerDnsProvider(settings) as provider, pytest.raises(DnsProviderError) as caught:
        provider.ensure_zone(unique_domain("key"), TEST_PAIR, serial=1)
    assert caught.value.retryable is False
    assert "HTTP 401" in str(caught.value)


def test_unreachable_server_is_retryable(dns_overrides: dict[str, Any]) -> None:
    settings = Settings(**{**dns_overrides, "powerdns_api_url": f"http://127.0.0.1:{free_port()}"})
    with PowerDnsProvider(settings) as provider, pytest.raises(DnsProviderError) as caught:
        provider.ensure_zone("unreachable.com", TEST_PAIR, serial=1)
    assert caught.value.retryable is True
    assert "unreachable" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False)]
)
def test_status_codes_map_to_retryable(status: int, retryable: bool) -> None:
    # A server fault or overload is hard to provoke in a real PowerDNS; the mapping is the unit.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": f"status {status}"})

    settings = Settings(powerdns_api_url="http://pdns.invalid:8081")
    with PowerDnsProvider(settings, transport=httpx.MockTransport(handler)) as provider:
        with pytest.raises(DnsProviderError) as caught:
            provider.delete_zone(Zone("x.com.", TEST_PAIR), "x.com")
        assert caught.value.retryable is retryable
        assert f"status {status}" in str(caught.value)
