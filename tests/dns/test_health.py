"""The health check against real DNS servers on loopback.

Most tests use `ZoneServer`, a small authoritative server over UDP and TCP serving zones parsed
from Mailfleet's own zone-file export: it answers like an authoritative server (AA set, REFUSED
outside its zones, TC and a TCP retry for large answers), which is all the check relies on, and
lets each test rewrite the zone at will. One test runs the same scenarios against PowerDNS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest

from mailfleet.config import MailboxType, Settings
from mailfleet.dns import dkim
from mailfleet.dns.health import HealthReport, check_zone, expected_text, parse_server
from mailfleet.dns.records import Record, group_rrsets, rdata_text
from mailfleet.dns.templates import managed_records
from mailfleet.dns.zonefile import export_domain_zone
from tests.support.powerdns import PowerDNS, RRsetSpec
from tests.support.zoneserver import ZoneServer, dead_address

NS_PAIR = ("ns1.mailfleet.test", "ns2.mailfleet.test")
# Loopback answers in microseconds; short timeouts keep the dead-server tests quick.
TIMEOUT = 0.5


# --- a small authoritative server ----------------------------------------------------------


# --- fixtures ------------------------------------------------------------------------------


def make_domain(name: str, mailbox_type: MailboxType | None, **values: Any) -> SimpleNamespace:
    fields: dict[str, Any] = {
        "name": name,
        "mailbox_type": mailbox_type,
        "nameserver_1": NS_PAIR[0],
        "nameserver_2": NS_PAIR[1],
        "dkim_selector": "mailfleet",
        "dkim_public_key": None,
        "dmarc_policy": "quarantine",
        "dmarc_rua": f"dmarc@{name}",
        "forwarding_url": None,
        "provider_verification": None,
        "dns_serial": 7,
    }
    fields.update(values)
    return SimpleNamespace(**fields)


@pytest.fixture(scope="module")
def keypair() -> dkim.DkimKeyPair:
    return dkim.generate_keypair()


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def zone_server() -> Iterator[ZoneServer]:
    server = ZoneServer()
    try:
        yield server
    finally:
        server.close()


def zone_of(
    domain: SimpleNamespace, records: Sequence[Record], settings: Settings
) -> dns.zone.Zone:
    text = export_domain_zone(
        domain.name, domain.nameserver_1, domain.dns_serial, records, settings
    )
    return dns.zone.from_text(text, relativize=False)


def smtp_setup(
    settings: Settings, keypair: dkim.DkimKeyPair, name: str = "acme.test"
) -> tuple[SimpleNamespace, list[Record]]:
    # The MX host inside the zone, so the SPF `mx` mechanism resolves against the same server.
    settings.mail_host = f"mx.{name}"
    domain = make_domain(name, MailboxType.SMTP, dkim_public_key=keypair.public_b64)
    records = managed_records(domain, settings)
    records.append(Record(f"mx.{name}", "A", "192.0.2.25", settings.dns_default_ttl))
    return domain, records


def swap(
    records: Sequence[Record], match: Callable[[Record], bool], new: Record | None
) -> list[Record]:
    """The records with the matching ones replaced by `new` (or dropped)."""
    kept = [record for record in records if not match(record)]
    return kept + ([new] if new is not None else [])


def statuses(report: HealthReport) -> dict[tuple[str, str, str], str]:
    return {(c.name, c.type, c.expected): c.status for c in report.records}


def is_spf(record: Record) -> bool:
    return record.type == "TXT" and record.content.startswith("v=spf1")


# --- the healthy zone ----------------------------------------------------------------------


def test_a_zone_served_as_published_is_healthy(
    zone_server: ZoneServer, settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)
    zone_server.load(zone_of(domain, records, settings))

    report = check_zone(
        domain.name,
        expected,
        [zone_server.address],
        dkim_public_key=keypair.public_b64,
        timeout=TIMEOUT,
    )

    assert set(statuses(report).values()) == {"present"}
    assert len(report.records) == len(expected)
    assert report.ok
    assert not report.drift
    assert report.servers[0].errors == []
    assert report.spf is not None
    assert report.spf.valid
    assert report.spf.record == "v=spf1 mx -all"
    assert report.spf.dns_lookups == 1
    assert report.spf.lookups_ok
    assert report.dmarc is not None
    assert (report.dmarc.valid, report.dmarc.policy) == (True, "quarantine")
    assert report.dmarc.rua == ["mailto:dmarc@acme.test"]
    assert report.dkim is not None
    assert report.dkim.match
    assert report.dkim.published == keypair.public_b64
    mx = next(check for check in report.records if check.type == "MX")
    assert mx.observed == ["10 mx.acme.test"]
    data = json.loads(json.dumps(report.to_dict()))
    assert (data["ok"], data["drift"]) == (True, False)
    assert {item["status"] for item in data["records"]} == {"present"}


def test_the_long_dkim_record_is_reassembled_and_verifies_a_signature(
    zone_server: ZoneServer, settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair, "signed.test")
    zone_server.load(zone_of(domain, records, settings))
    host, port = parse_server(zone_server.address)

    def served_txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        query = dns.message.make_query(text, "TXT")
        response, _ = dns.query.udp_with_fallback(query, host, port=port, timeout=timeout)
        for rrset in response.answer:
            for rdata in rrset:
                # The key is longer than 255 bytes: served as several strings, joined here.
                assert len(rdata.strings) > 1
                return b"".join(rdata.strings)
        return None

    message = b"From: a@signed.test\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
    signed = dkim.sign_message(
        message, selector="mailfleet", domain="signed.test", private_pem=keypair.private_pem
    )
    assert dkim.verify_message(signed, served_txt)


# --- drift ---------------------------------------------------------------------------------


def test_a_removed_record_is_missing_and_is_drift(
    zone_server: ZoneServer, settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)
    served = swap(records, lambda r: r.name.startswith("_dmarc."), None)
    zone_server.load(zone_of(domain, served, settings))

    report = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    dmarc = next(check for check in report.records if check.name == "_dmarc.acme.test")
    assert (dmarc.status, dmarc.observed) == ("missing", [])
    assert report.drift
    assert not report.ok
    assert report.dmarc is not None
    assert not report.dmarc.valid
    assert report.to_dict()["drift"] is True


def test_a_changed_record_is_different_and_shows_what_is_served(
    zone_server: ZoneServer, settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)
    served = swap(
        records, lambda r: r.type == "MX", Record("acme.test", "MX", "evil.example", 300, 5)
    )
    zone_server.load(zone_of(domain, served, settings))

    report = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    mx = next(check for check in report.records if check.type == "MX")
    assert mx.status == "different"
    assert mx.expected == "10 mx.acme.test"
    assert mx.observed == ["5 evil.example"]
    assert report.drift
    others = [check.status for check in report.records if check.type != "MX"]
    assert set(others) == {"present"}


def test_a_cname_where_a_txt_is_expected_is_different(
    zone_server: ZoneServer, settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)
    name = "_dmarc.acme.test"
    served = swap(records, lambda r: r.name == name, Record(name, "CNAME", "dmarc.example", 300))
    zone_server.load(zone_of(domain, served, settings))

    report = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    dmarc = next(check for check in report.records if check.name == name)
    assert (dmarc.status, dmarc.observed) == ("different", ["CNAME dmarc.example"])


def test_a_replaced_dkim_key_does_not_match_the_stored_one(
    zone_server: ZoneServer, settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)
    other = dkim.generate_keypair(1024).public_b64
    name = "mailfleet._domainkey.acme.test"
    served = swap(records, lambda r: r.name == name, Record(name, "TXT", dkim.dkim_txt(other)))
    zone_server.load(zone_of(domain, served, settings))

    report = check_zone(
        domain.name,
        expected,
        [zone_server.address],
        dkim_public_key=keypair.public_b64,
        timeout=TIMEOUT,
    )

    assert report.dkim is not None
    assert (report.dkim.match, report.dkim.published) == (False, other)
    assert statuses(report)[(name, "TXT", dkim.dkim_txt(keypair.public_b64))] == "different"
    assert report.drift


def test_a_broken_spf_is_reported_invalid(
    zone_server: ZoneServer, settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)
    served = swap(records, is_spf, Record("acme.test", "TXT", "v=spf1 mx foo:bar -all"))
    zone_server.load(zone_of(domain, served, settings))

    report = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    assert report.spf is not None
    assert report.spf.record == "v=spf1 mx foo:bar -all"
    assert not report.spf.valid
    assert report.spf.error is not None
    assert "foo" in report.spf.error
    assert report.drift


def test_two_spf_records_on_the_apex_are_invalid(
    zone_server: ZoneServer, settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)
    served = [*records, Record("acme.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")]
    zone_server.load(zone_of(domain, served, settings))

    report = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    # Our record is still there, so no drift, but the zone is not healthy.
    assert not report.drift
    assert report.spf is not None
    assert not report.spf.valid
    assert not report.ok


# --- SPF lookups ---------------------------------------------------------------------------


def test_an_include_the_servers_cannot_resolve_is_a_warning_counted_once(
    zone_server: ZoneServer, settings: Settings
) -> None:
    domain = make_domain("gmail-side.test", MailboxType.GOOGLE)
    expected = managed_records(domain, settings)
    zone_server.load(zone_of(domain, expected, settings))

    started = time.monotonic()
    report = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    # The server refuses _spf.google.com at once: no timeout is spent on it.
    assert time.monotonic() - started < 5 * TIMEOUT
    assert report.spf is not None
    assert report.spf.valid
    assert report.spf.unresolved_includes == ["_spf.google.com"]
    assert report.spf.dns_lookups == 1
    assert report.spf.lookups_ok
    assert any("_spf.google.com" in warning for warning in report.spf.warnings)
    assert report.ok


def test_an_include_the_servers_do_resolve_is_followed(
    zone_server: ZoneServer, settings: Settings
) -> None:
    domain = make_domain("nested.test", MailboxType.SMTP)
    settings.spf_smtp_mechanisms = "include:_spf.nested.test"
    expected = managed_records(domain, settings)
    served = [
        *expected,
        Record("_spf.nested.test", "TXT", "v=spf1 a:out.nested.test mx -all"),
        Record("out.nested.test", "A", "192.0.2.9"),
    ]
    zone_server.load(zone_of(domain, served, settings))

    report = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    assert report.spf is not None
    assert report.spf.valid
    assert report.spf.unresolved_includes == []
    # include + a + mx
    assert report.spf.dns_lookups == 3


@pytest.mark.parametrize(("includes", "within"), [(10, True), (11, False)])
def test_spf_lookups_beyond_ten_fail_the_lookup_limit(
    zone_server: ZoneServer, settings: Settings, includes: int, within: bool
) -> None:
    domain = make_domain("lookups.test", MailboxType.SMTP)
    settings.spf_smtp_mechanisms = " ".join(f"include:i{n}.lookups.test" for n in range(includes))
    expected = managed_records(domain, settings)
    targets = [Record(f"i{n}.lookups.test", "TXT", "v=spf1 -all") for n in range(includes)]
    zone_server.load(zone_of(domain, [*expected, *targets], settings))

    report = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    assert report.spf is not None
    assert (report.spf.dns_lookups, report.spf.lookups_ok) == (includes, within)
    assert report.ok is within
    assert not report.drift


def test_a_zone_change_is_seen_by_the_next_check_despite_checkdmarcs_cache(
    zone_server: ZoneServer, settings: Settings
) -> None:
    domain = make_domain("cached.test", MailboxType.SMTP)
    settings.spf_smtp_mechanisms = "include:_spf.cached.test"
    expected = managed_records(domain, settings)
    target = Record("_spf.cached.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")
    zone_server.load(zone_of(domain, [*expected, target], settings))
    first = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)
    assert first.spf is not None
    assert first.spf.dns_lookups == 1

    heavier = replace(target, content="v=spf1 a:out.cached.test exists:out.cached.test -all")
    out = Record("out.cached.test", "A", "192.0.2.2")
    zone_server.load(zone_of(domain, [*expected, heavier, out], settings))
    second = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    assert second.spf is not None
    assert second.spf.dns_lookups == 3


# --- servers -------------------------------------------------------------------------------


def test_a_dead_server_is_reported_without_hiding_the_live_ones_answers(
    zone_server: ZoneServer, settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)
    zone_server.load(zone_of(domain, records, settings))
    dead = dead_address()

    started = time.monotonic()
    report = check_zone(domain.name, expected, [zone_server.address, dead], timeout=0.2)

    # One timeout for the dead server's records, not one per record.
    assert time.monotonic() - started < 3
    live, gone = report.servers
    assert (live.reachable, live.errors) == (True, [])
    assert not gone.reachable
    assert len(gone.errors) == 1
    assert set(statuses(report).values()) == {"present"}
    assert not report.drift
    assert not report.ok


def test_no_answer_at_all_is_unknown_not_drift(
    settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, _ = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)

    started = time.monotonic()
    report = check_zone(
        domain.name, expected, [dead_address()], dkim_public_key=keypair.public_b64, timeout=0.2
    )

    assert set(statuses(report).values()) == {"unknown"}
    assert not report.drift
    assert not report.ok
    # Nothing answered, so nothing is validated (and no timeout is spent on checkdmarc).
    assert (report.spf, report.dmarc, report.dkim) == (None, None, None)
    assert time.monotonic() - started < 1


def test_a_server_that_does_not_host_the_zone_is_an_error_for_each_record(
    zone_server: ZoneServer, settings: Settings
) -> None:
    domain = make_domain("elsewhere.test", None)
    expected = managed_records(domain, settings)

    report = check_zone(domain.name, expected, [zone_server.address], timeout=TIMEOUT)

    assert report.servers[0].reachable
    assert report.servers[0].errors == ["elsewhere.test NS: answered REFUSED"]
    assert [check.status for check in report.records] == ["unknown", "unknown"]
    assert not report.ok


def test_one_stale_server_makes_the_record_different(
    settings: Settings, keypair: dkim.DkimKeyPair
) -> None:
    domain, records = smtp_setup(settings, keypair)
    expected = managed_records(domain, settings)
    stale = swap(records, is_spf, Record("acme.test", "TXT", "v=spf1 -all"))
    first, second = (
        ZoneServer(zone_of(domain, records, settings)),
        ZoneServer(zone_of(domain, stale, settings)),
    )
    try:
        report = check_zone(domain.name, expected, [first.address, second.address], timeout=TIMEOUT)
    finally:
        first.close()
        second.close()

    spf = next(
        check for check in report.records if check.type == "TXT" and check.name == "acme.test"
    )
    assert spf.status == "different"
    assert spf.observed == ["v=spf1 -all", "v=spf1 mx -all"]


def test_server_addresses_parse() -> None:
    assert parse_server("127.0.0.1:5300") == ("127.0.0.1", 5300)
    assert parse_server("192.0.2.1") == ("192.0.2.1", 53)
    assert parse_server("[::1]:5353") == ("::1", 5353)
    assert parse_server("::1") == ("::1", 53)


def test_expected_values_use_the_observed_form() -> None:
    assert expected_text(Record("a.test", "MX", "Mail.A.test", 300, 10)) == "10 mail.a.test"
    assert expected_text(Record("a.test", "AAAA", "2001:db8:0::1")) == "2001:db8::1"
    assert expected_text(Record("a.test", "TXT", 'say "hi"')) == 'say "hi"'


# --- end to end against PowerDNS -----------------------------------------------------------


def _pdns_rrsets(records: Sequence[Record]) -> list[RRsetSpec]:
    return [
        RRsetSpec(rrset.name, rrset.type, [rdata_text(r) for r in rrset.records], rrset.ttl)
        for rrset in group_rrsets(records)
        if rrset.type != "NS"
    ]


def test_health_check_against_powerdns(
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
    settings: Settings,
    keypair: dkim.DkimKeyPair,
) -> None:
    name = unique_domain("health")
    domain, records = smtp_setup(settings, keypair, name)
    expected = managed_records(domain, settings)
    pdns_child.create_zone(name, NS_PAIR, _pdns_rrsets(records))
    servers = [pdns_child.address]

    def check() -> HealthReport:
        return check_zone(
            name, expected, servers, dkim_public_key=keypair.public_b64, timeout=TIMEOUT
        )

    try:
        healthy = check()
        assert healthy.ok, healthy.to_dict()
        assert healthy.dkim is not None
        assert healthy.dkim.match

        pdns_child.set_rrsets(name, [RRsetSpec(name, "MX", ["20 other.example."])])
        pdns_child.delete_rrsets(name, [(f"_dmarc.{name}", "TXT")])
        other = dkim.generate_keypair(1024).public_b64
        dkim_name = f"mailfleet._domainkey.{name}"
        pdns_child.set_rrsets(
            name,
            [
                RRsetSpec(
                    dkim_name, "TXT", [rdata_text(Record(dkim_name, "TXT", dkim.dkim_txt(other)))]
                ),
                RRsetSpec(name, "TXT", ['"v=spf1 mx foo:bar -all"']),
            ],
        )
        drifted = check()
    finally:
        pdns_child.delete_zone(name)

    by_key = {(c.name, c.type): c for c in drifted.records}
    assert by_key[(name, "MX")].status == "different"
    assert by_key[(name, "MX")].observed == ["20 other.example"]
    assert by_key[(f"_dmarc.{name}", "TXT")].status == "missing"
    assert by_key[(dkim_name, "TXT")].status == "different"
    assert by_key[(name, "NS")].status == "present"
    assert drifted.drift
    assert drifted.dkim is not None
    assert (drifted.dkim.match, drifted.dkim.published) == (False, other)
    assert drifted.spf is not None
    assert not drifted.spf.valid
    assert drifted.dmarc is not None
    assert not drifted.dmarc.valid
