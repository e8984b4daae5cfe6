"""The delegation checker against real servers: pdns_parent plays the TLD, pdns_child our pair."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rrset
import pytest

from mailfleet.config import Settings
from mailfleet.dns.addresses import NameserverAddresses
from mailfleet.dns.checks import server_addresses
from mailfleet.dns.delegation import (
    DelegationChecker,
    _Discovery,
    parent_zone,
    parse_server,
    read_parent,
    scan,
)
from mailfleet.models import Domain
from tests.support import powerdns
from tests.support.dns_fixtures import PARENT_ZONE, TEST_PAIR
from tests.support.powerdns import PowerDNS, RRsetSpec
from tests.support.servers import free_port, unavailable

Checker = Callable[..., DelegationChecker]


@pytest.fixture
def checker(dns_overrides: dict[str, Any]) -> Checker:
    def build(concurrency: int = 256, **changes: Any) -> DelegationChecker:
        return DelegationChecker(Settings(**{**dns_overrides, **changes}), concurrency=concurrency)

    return build


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A UDP port that receives queries and never answers (a parent that times out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def hosted_and_delegated(
    parent: PowerDNS, child: PowerDNS, name: str, nameservers: tuple[str, ...] = TEST_PAIR
) -> None:
    child.create_zone(name, TEST_PAIR)
    parent.delegate(PARENT_ZONE, name, nameservers)


def test_delegated_domain(
    checker: Checker,
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    name = unique_domain("ok")
    hosted_and_delegated(pdns_parent, pdns_child, name)
    zone = pdns_child.zone(name)
    assert zone is not None

    # Expected names as a person might type them: case and trailing dots do not matter.
    diagnosis = checker().check(name.upper(), ["NS2.mailfleet.test.", "ns1.MAILFLEET.test"])

    assert diagnosis.delegated is True
    assert diagnosis.ok is True
    assert diagnosis.domain == name
    assert diagnosis.parent_zone == "com"
    (parent,) = diagnosis.parents
    assert parent.server == pdns_parent.address
    assert parent.rcode == "NOERROR"
    assert parent.authoritative is False, "a parent answers with a referral"
    assert parent.nameservers == list(TEST_PAIR)
    assert [(a.nameserver, a.server) for a in diagnosis.nameservers] == [
        (host, pdns_child.address) for host in TEST_PAIR
    ]
    assert all(a.authoritative for a in diagnosis.nameservers)
    assert {a.serial for a in diagnosis.nameservers} == {zone["serial"]}
    assert "delegated to ns1.mailfleet.test, ns2.mailfleet.test" in diagnosis.reason
    assert diagnosis.to_dict() == dataclasses.asdict(diagnosis)
    report = json.loads(json.dumps(diagnosis.to_dict()))
    assert report["delegated"] is True
    assert report["parents"][0]["nameservers"] == list(TEST_PAIR)
    assert report["nameservers"][0]["serial"] == zone["serial"]


def test_not_delegated_is_nxdomain_at_the_parent(
    checker: Checker, pdns_parent: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    name = unique_domain("nx")

    diagnosis = checker().check(name, TEST_PAIR)

    assert diagnosis.delegated is False
    assert diagnosis.parents[0].rcode == "NXDOMAIN"
    assert diagnosis.parents[0].nameservers == []
    assert diagnosis.reason == (
        f"parent {pdns_parent.address} answered NXDOMAIN: {name} is not delegated "
        "(or not registered)"
    )
    assert diagnosis.nameservers == [], "our servers are not asked before the parent delegates"


def test_wrong_delegation_names_the_servers_the_parent_gives(
    checker: Checker,
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    name = unique_domain("wrong")
    hosted_and_delegated(pdns_parent, pdns_child, name, ("ns2.other.com", "ns1.other.com"))

    diagnosis = checker().check(name, TEST_PAIR)

    assert diagnosis.delegated is False
    assert diagnosis.parents[0].nameservers == ["ns1.other.com", "ns2.other.com"]
    assert diagnosis.reason == (
        f"parent {pdns_parent.address} delegates to ns1.other.com, ns2.other.com; "
        "expected ns1.mailfleet.test, ns2.mailfleet.test"
    )


def test_half_of_the_pair_is_not_enough(
    checker: Checker,
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    name = unique_domain("half")
    hosted_and_delegated(pdns_parent, pdns_child, name, TEST_PAIR[:1])

    diagnosis = checker().check(name, TEST_PAIR)

    assert diagnosis.delegated is False
    assert "delegates to ns1.mailfleet.test; expected" in diagnosis.reason


def test_delegation_removed_at_the_parent_is_seen_at_once(
    checker: Checker,
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    name = unique_domain("undo")
    hosted_and_delegated(pdns_parent, pdns_child, name)
    assert checker().check(name, TEST_PAIR).delegated is True

    pdns_parent.undelegate(PARENT_ZONE, name)

    assert checker().check(name, TEST_PAIR).parents[0].rcode == "NXDOMAIN"


def test_assigned_server_without_the_zone_is_not_authoritative(
    checker: Checker,
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    name = unique_domain("lame")
    pdns_parent.delegate(PARENT_ZONE, name, TEST_PAIR)

    diagnosis = checker().check(name, TEST_PAIR)

    assert diagnosis.delegated is False
    assert diagnosis.parents[0].nameservers == list(TEST_PAIR)
    assert [a.authoritative for a in diagnosis.nameservers] == [False, False]
    assert diagnosis.nameservers[0].error == "answered REFUSED: it does not serve the zone"
    assert diagnosis.reason.startswith("the parent delegates to ns1.mailfleet.test, ")
    assert f"ns1.mailfleet.test ({pdns_child.address}) is not authoritative" in diagnosis.reason


def test_parent_that_also_hosts_the_child_answers_authoritatively(
    checker: Checker, pdns_child: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    name = unique_domain("same")
    pdns_child.create_zone(name, TEST_PAIR)

    diagnosis = checker(dns_parent_servers={"com": [pdns_child.address]}).check(name, TEST_PAIR)

    assert diagnosis.parents[0].authoritative is True
    assert diagnosis.delegated is True


def test_every_parent_server_must_agree(
    checker: Checker,
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    name = unique_domain("agree")
    pdns_parent.delegate(PARENT_ZONE, name, TEST_PAIR)
    # pdns_child serves neither com. nor the domain: as a second "parent" it refuses.
    parents = {"com": [pdns_parent.address, pdns_child.address]}

    diagnosis = checker(dns_parent_servers=parents).check(name, TEST_PAIR)

    assert diagnosis.delegated is False
    assert [p.rcode for p in diagnosis.parents] == ["NOERROR", "REFUSED"]
    assert diagnosis.reason == (
        f"parent {pdns_child.address} answered REFUSED (1 of 2 parent servers disagree)"
    )


def test_refusing_parent_is_an_error_in_the_diagnosis(
    checker: Checker, unique_domain: Callable[[str], str]
) -> None:
    closed = f"127.0.0.1:{free_port()}"

    diagnosis = checker(dns_parent_servers={"com": [closed]}).check(unique_domain("x"), TEST_PAIR)

    assert diagnosis.delegated is False
    assert diagnosis.parents[0].rcode is None
    assert diagnosis.parents[0].error == "connection refused"
    assert diagnosis.reason == f"parent {closed} did not answer: connection refused"


def test_silent_parent_times_out_into_the_diagnosis(
    checker: Checker, silent_server: str, unique_domain: Callable[[str], str]
) -> None:
    check = checker(dns_parent_servers={"com": [silent_server]}, dns_query_timeout=0.3)

    started = time.monotonic()
    diagnosis = check.check(unique_domain("slow"), TEST_PAIR)

    assert time.monotonic() - started < 1.5
    assert diagnosis.delegated is False
    assert diagnosis.parents[0].error == "no answer within 0.3 s"
    assert diagnosis.reason == f"parent {silent_server} did not answer: no answer within 0.3 s"


def test_unreachable_assigned_server(
    checker: Checker,
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    name = unique_domain("down")
    hosted_and_delegated(pdns_parent, pdns_child, name)
    addresses = {TEST_PAIR[0]: [pdns_child.address], TEST_PAIR[1]: [f"127.0.0.1:{free_port()}"]}

    diagnosis = checker(dns_nameserver_addresses=addresses).check(name, TEST_PAIR)

    assert diagnosis.delegated is False
    assert [a.authoritative for a in diagnosis.nameservers] == [True, False]
    assert diagnosis.nameservers[1].error == "connection refused"


def test_truncated_referral_is_fetched_over_tcp(
    checker: Checker, pdns_parent: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    name = unique_domain("big")
    many = tuple(f"ns{i}.a-rather-long-nameserver-name-{i:02d}.example.net" for i in range(40))
    pdns_parent.delegate(PARENT_ZONE, name, many)

    diagnosis = checker().check(name, TEST_PAIR)

    # 40 names do not fit in a 1232-byte UDP answer: only TCP brings the whole set.
    assert diagnosis.parents[0].nameservers == sorted(many)
    assert diagnosis.delegated is False


def test_check_many_keeps_order_and_mixes_outcomes(
    checker: Checker,
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    good = [unique_domain("many") for _ in range(20)]
    for name in good:
        hosted_and_delegated(pdns_parent, pdns_child, name)
    missing = [unique_domain("none") for _ in range(5)]
    names = good[:5] + missing + good[5:]
    items = [(name, TEST_PAIR) for name in names]

    # Fewer workers than domains: each worker takes several in turn.
    diagnoses = asyncio.run(checker(concurrency=4).check_many(items))

    assert [d.domain for d in diagnoses] == [name for name, _ in items]
    assert {d.domain for d in diagnoses if d.delegated} == set(good)
    assert asyncio.run(checker().check_many([])) == []


def test_builtin_zone_is_asked_at_the_builtin_server_by_default(
    dns_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> None:
    name = unique_domain("builtin")
    hosted_and_delegated(pdns_parent, pdns_child, name)
    host, port = parse_server(pdns_child.address)
    # No address for the pair and no resolver: only the builtin rule leads to pdns_child, which
    # plays Mailfleet's own server here.
    settings = Settings(
        **{
            **dns_overrides,
            "dns_nameserver_addresses": {},
            "dns_server_host": host,
            "dns_server_port": port,
            "dns_resolvers": [f"127.0.0.1:{free_port()}"],
            "dns_query_timeout": 0.3,
        }
    )
    checker = DelegationChecker(settings)

    builtin, elsewhere = asyncio.run(
        checker.check_many([(name, TEST_PAIR, "builtin"), (name, TEST_PAIR, "powerdns")])
    )

    assert builtin.delegated is True, builtin.reason
    assert [(a.nameserver, a.server) for a in builtin.nameservers] == [
        (ns, pdns_child.address) for ns in TEST_PAIR
    ]
    # Another provider's pair has to be resolved, and here it cannot be.
    assert elsewhere.delegated is False
    assert [a.error or "" for a in elsewhere.nameservers][0].startswith("could not resolve: ")
    assert checker.check(name, TEST_PAIR, "builtin").delegated is True


def test_nameserver_addresses_settings_then_builtin_then_resolve() -> None:
    settings = Settings(
        dns_nameserver_addresses={"ns1.x.com": ["192.0.2.1", "192.0.2.2:5300"]},
        dns_server_host="::1",
        dns_server_port=5300,
    )
    addresses = NameserverAddresses(settings)

    # Settings win for every provider; names are matched the way nameservers are written.
    assert addresses.configured("builtin", "NS1.x.com.") == [("192.0.2.1", 53), ("192.0.2.2", 5300)]
    assert addresses.configured("powerdns", "ns1.x.com") == [("192.0.2.1", 53), ("192.0.2.2", 5300)]
    assert addresses.configured("builtin", "ns2.x.com") == [("::1", 5300)]
    assert addresses.configured("powerdns", "ns2.x.com") is None
    assert addresses.configured(None, "ns2.x.com") is None
    # The health check asks the same servers.
    domain = Domain(nameserver_1="ns1.x.com", nameserver_2="ns2.x.com", dns_provider="builtin")
    assert server_addresses(settings, domain) == ["192.0.2.1:53", "192.0.2.2:5300", "[::1]:5300"]


def test_no_expected_nameservers(checker: Checker, unique_domain: Callable[[str], str]) -> None:
    diagnosis = checker().check(unique_domain("empty"), [])
    assert diagnosis.delegated is False
    assert diagnosis.reason == "no nameservers are assigned to the domain"
    assert diagnosis.parents == []


@pytest.fixture(scope="module")
def port_53_server() -> Iterator[PowerDNS]:
    """A PowerDNS on port 53 of a random 127/8 address: what resolved addresses point at."""
    if os.geteuid() != 0:
        unavailable("serving DNS on port 53 needs root")
    reason = powerdns.missing()
    if reason:
        unavailable(reason)
    address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    with PowerDNS(host=address, dns_port=53) as server:
        yield server


def test_parent_servers_and_nameserver_addresses_are_resolved(
    port_53_server: PowerDNS, unique_domain: Callable[[str], str]
) -> None:
    # One server plays the resolver, the com. servers and our pair: every address it hands out
    # is its own, on port 53, so only the resolution path leads to it.
    server, ip = port_53_server, port_53_server.host
    name = unique_domain("resolved")
    server.create_zone("com", ["a.gtld.test"])
    server.create_zone("gtld.test", ["a.gtld.test"], [RRsetSpec("a.gtld.test", "A", [ip])])
    pair_a = RRsetSpec("ns1.mailfleet.test", "A", [ip]), RRsetSpec("ns2.mailfleet.test", "A", [ip])
    server.create_zone("mailfleet.test", TEST_PAIR, pair_a)
    server.create_zone(name, TEST_PAIR)
    checker = DelegationChecker(Settings(dns_resolvers=[ip], dns_query_timeout=1.0))

    first, second = asyncio.run(checker.check_many([(name, TEST_PAIR), (name, TEST_PAIR)]))

    assert first.delegated is True, first.reason
    assert [p.server for p in first.parents] == [f"{ip}:53"]
    assert first.parents[0].authoritative is True, "the server also hosts the child"
    assert {a.server for a in first.nameservers} == {f"{ip}:53"}
    assert second.to_dict() == first.to_dict()


def test_parent_without_resolvable_servers_is_explained(
    unique_domain: Callable[[str], str],
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    checker = DelegationChecker(Settings(dns_resolvers=[closed], dns_query_timeout=0.3))

    diagnosis = checker.check(unique_domain("nores"), TEST_PAIR)

    assert diagnosis.delegated is False
    assert diagnosis.parents == []
    assert diagnosis.reason.startswith("could not find the servers of the parent zone com: ")


# --- units: the parent zone, server addresses, reading a referral ---


@pytest.mark.parametrize(
    ("domain", "parent"),
    [
        ("acme.co.uk", "co.uk"),
        ("ACME.com.", "com"),
        ("acme.com.au", "com.au"),
        ("xn--80ak6aa92e.com", "com"),
        ("acme.test", "test"),
    ],
)
def test_parent_zone_from_the_public_suffix_list(domain: str, parent: str) -> None:
    assert parent_zone(domain) == parent


def test_configured_parent_servers_use_the_longest_suffix() -> None:
    settings = Settings(
        dns_parent_servers={"uk": ["127.0.0.1:5301"], "co.uk": ["127.0.0.2:5302", "::1"]}
    )
    discovery = _Discovery(settings)

    assert discovery.parent_of("acme.co.uk") == ("co.uk", [("127.0.0.2", 5302), ("::1", 53)])
    assert discovery.parent_of("acme.org.uk") == ("org.uk", [("127.0.0.1", 5301)])
    assert discovery.parent_of("acme.com") == ("com", None)


def test_parse_server_forms() -> None:
    assert parse_server("192.0.2.1") == ("192.0.2.1", 53)
    assert parse_server("192.0.2.1:5300") == ("192.0.2.1", 5300)
    assert parse_server("[2001:db8::1]:5300") == ("2001:db8::1", 5300)
    assert parse_server("2001:db8::1") == ("2001:db8::1", 53)


def test_configured_host_names_are_refused() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        DelegationChecker(Settings(dns_parent_servers={"com": ["a.gtld-servers.net"]}))


def test_referral_upwards_is_a_lame_parent() -> None:
    domain = dns.name.from_text("acme.com")
    query = dns.message.make_query(domain, "NS")
    response = dns.message.make_response(query)
    response.flags &= ~dns.flags.AA
    response.authority.append(dns.rrset.from_text("com.", 3600, "IN", "NS", "a.gtld-servers.net."))

    answer = read_parent("192.0.2.1:53", domain, scan(response.to_wire()))

    assert answer.nameservers == []
    assert answer.error == "referred to the servers of com: not a server of the parent zone"
