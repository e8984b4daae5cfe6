"""Zone file export: parsed back with dnspython, it holds exactly the records we wrote."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from mailfleet.config import MailboxType, Settings
from mailfleet.dns.dkim import generate_keypair
from mailfleet.dns.records import Record, rdata_text
from mailfleet.dns.templates import managed_records
from mailfleet.dns.zonefile import Soa, export_domain_zone, export_zone, relative_name

ORIGIN = "acme-mail.test"


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]


def parse(text: str, origin: str = ORIGIN) -> dns.zone.Zone:
    return dns.zone.from_text(text, origin=origin + ".", relativize=False)


def zone_contents(zone: dns.zone.Zone) -> set[tuple[str, str, int, str]]:
    """(name, type, ttl, data) of every record but the SOA, TXT data joined from its strings."""
    found = set()
    for name, ttl, rdata in zone.iterate_rdatas():
        if rdata.rdtype == dns.rdatatype.SOA:
            continue
        found.add(
            (name.to_text().rstrip("."), dns.rdatatype.to_text(rdata.rdtype), ttl, _data(rdata))
        )
    return found


def expected_contents(records: list[Record]) -> set[tuple[str, str, int, str]]:
    found = set()
    for record in records:
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN,
            record.type,
            rdata_text(record),
            origin=dns.name.root,
            relativize=False,
        )
        found.add((record.name, record.type, record.ttl, _data(rdata)))
    return found


def _data(rdata: dns.rdata.Rdata) -> str:
    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode()  # type: ignore[attr-defined]
    return rdata.to_text()


def smtp_domain(**values: Any) -> SimpleNamespace:
    fields: dict[str, Any] = {
        "name": ORIGIN,
        "mailbox_type": MailboxType.SMTP,
        "nameserver_1": "ns1.mailfleet.test",
        "nameserver_2": "ns2.mailfleet.test",
        "dkim_selector": "mailfleet",
        "dkim_public_key": generate_keypair().public_b64,
        "dmarc_policy": "reject",
        "dmarc_rua": "dmarc@acme-mail.test",
        "forwarding_url": "https://example.org",
        "provider_verification": None,
        "dns_serial": 2026110301,
    }
    fields.update(values)
    return SimpleNamespace(**fields)


def test_a_templated_zone_round_trips(settings: Settings) -> None:
    settings.forwarding_ipv6 = "2001:db8::80"
    domain = smtp_domain()
    records = managed_records(domain, settings)
    records.append(Record(ORIGIN, "TXT", 'note with "quotes" and \\ backslash'))

    text = export_domain_zone(
        domain.name, domain.nameserver_1, domain.dns_serial, records, settings
    )
    zone = parse(text)

    assert zone_contents(zone) == expected_contents(records)
    soa = zone.find_rdataset(ORIGIN + ".", dns.rdatatype.SOA)
    assert len(soa) == 1
    (record,) = soa
    assert record.mname.to_text() == "ns1.mailfleet.test."
    assert record.rname.to_text() == settings.dns_soa_hostmaster + "."
    assert record.serial == 2026110301
    assert soa.ttl == settings.dns_default_ttl


def test_the_text_uses_origin_relative_names_and_split_txt(settings: Settings) -> None:
    domain = smtp_domain()
    records = managed_records(domain, settings)

    text = export_domain_zone(
        domain.name, domain.nameserver_1, domain.dns_serial, records, settings
    )
    lines = text.splitlines()

    assert lines[0] == f"$ORIGIN {ORIGIN}."
    assert lines[1] == f"$TTL {settings.dns_default_ttl}"
    assert lines[2].split("\t")[:4] == ["@", str(settings.dns_default_ttl), "IN", "SOA"]
    assert [line.split("\t")[3] for line in lines[3:5]] == ["NS", "NS"]
    dkim_line = next(line for line in lines if line.startswith("mailfleet._domainkey\t"))
    # 2048-bit key: two quoted strings, the first exactly 255 bytes.
    data = dkim_line.split("\t")[4]
    first, second = data.split('" "')
    assert len(first.lstrip('"')) == 255
    assert second.endswith('"')
    assert any(line.startswith("_dmarc\t") for line in lines)
    assert any(line.startswith("www\t") and "CNAME\tacme-mail.test." in line for line in lines)
    assert text.endswith("\n")


def test_other_record_types_round_trip() -> None:
    records = [
        Record(ORIGIN, "NS", "ns1.mailfleet.test", 3600),
        Record(ORIGIN, "CAA", '0 issue "letsencrypt.org"', 3600),
        Record(f"_sip._tcp.{ORIGIN}", "SRV", "5 5060 sip.acme-mail.test", 600, 10),
        Record(f"deep.sub.{ORIGIN}", "A", "192.0.2.7", 60),
        Record(f"deep.sub.{ORIGIN}", "A", "192.0.2.8", 120),
    ]
    soa = Soa(mname="ns1.mailfleet.test", rname="hostmaster.mailfleet.test", serial=9)

    zone = parse(export_zone(ORIGIN, records, soa=soa, default_ttl=3600))

    # One RRset has one TTL: the lower of the two.
    expected = {r if r.type != "A" else Record(r.name, r.type, r.content, 60) for r in records}
    assert zone_contents(zone) == expected_contents(sorted(expected, key=repr))


def test_an_soa_among_the_records_is_not_written_twice() -> None:
    soa = Soa(mname="ns1.mailfleet.test", rname="hostmaster.mailfleet.test", serial=3)
    records = [
        Record(ORIGIN, "SOA", "x. y. 1 2 3 4 5"),
        Record(ORIGIN, "NS", "ns1.mailfleet.test"),
    ]
    text = export_zone(ORIGIN, records, soa=soa, default_ttl=300)
    assert text.count("SOA") == 1
    assert parse(text).find_rdataset(ORIGIN + ".", "SOA")[0].serial == 3  # type: ignore[attr-defined]


def test_a_hostmaster_given_as_an_address_becomes_a_name(settings: Settings) -> None:
    settings.dns_soa_hostmaster = "hostmaster@mailfleet.test"
    ns = [Record(ORIGIN, "NS", "ns1.mailfleet.test")]
    text = export_domain_zone(ORIGIN, "ns1.mailfleet.test", 1, ns, settings)
    soa = parse(text).find_rdataset(ORIGIN + ".", "SOA")[0]
    assert soa.rname.to_text() == "hostmaster.mailfleet.test."  # type: ignore[attr-defined]


def test_relative_names() -> None:
    assert relative_name("acme-mail.test", ORIGIN) == "@"
    assert relative_name("WWW.acme-mail.test.", ORIGIN) == "www"
    assert relative_name("a.b.acme-mail.test", ORIGIN) == "a.b"
    # Not inside the origin (a suffix match on labels, not characters): written absolute.
    assert relative_name("xacme-mail.test", ORIGIN) == "xacme-mail.test."
    assert relative_name("other.test", ORIGIN) == "other.test."
