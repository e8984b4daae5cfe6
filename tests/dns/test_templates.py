"""Managed record templates: exact records per mailbox type, and SPF/DMARC that checkdmarc accepts.

checkdmarc validation runs against the templated zone served on loopback (tests.support.zoneserver
ZoneServer). There is no Internet here, so provider includes (`_spf.google.com`,
`spf.protection.outlook.com`) cannot be followed: the server refuses them, and the count is of
the lookups we can see — each such include counts as one, its own nested lookups are unknown
(Google's and Microsoft's includes use 3-4 more; both stay far below 10).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import checkdmarc.dmarc
import dns.zone
import pytest

from mailfleet.config import MailboxType, Settings
from mailfleet.dns import templates
from mailfleet.dns.dkim import dkim_txt
from mailfleet.dns.health import ZoneResolver, validate_spf, zone_resolver
from mailfleet.dns.records import Record
from mailfleet.dns.templates import TemplateError, managed_records
from mailfleet.dns.zonefile import export_domain_zone
from mailfleet.models.domain import Domain
from tests.support.zoneserver import ZoneServer

NS1, NS2 = "ns1.mailfleet.test", "ns2.mailfleet.test"
PUBLIC_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x" * 348


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]


def domain(mailbox_type: MailboxType | None, name: str = "acme-mail.test", **values: Any) -> Any:
    fields: dict[str, Any] = {
        "name": name,
        "mailbox_type": mailbox_type,
        "nameserver_1": NS1,
        "nameserver_2": NS2,
        "dkim_selector": None,
        "dkim_public_key": None,
        "dmarc_policy": None,
        "dmarc_rua": None,
        "forwarding_url": None,
        "provider_verification": None,
    }
    fields.update(values)
    return SimpleNamespace(**fields)


def as_tuples(records: list[Record]) -> set[tuple[str, str, str, int | None]]:
    return {(r.name, r.type, r.content, r.priority) for r in records}


NS_RECORDS = {("acme-mail.test", "NS", NS1, None), ("acme-mail.test", "NS", NS2, None)}


# --- per type ------------------------------------------------------------------------------


def test_without_a_type_only_the_nameservers_are_managed(settings: Settings) -> None:
    records = managed_records(domain(None), settings)
    assert as_tuples(records) == NS_RECORDS
    assert {r.ttl for r in records} == {settings.dns_default_ttl}


def test_google(settings: Settings) -> None:
    records = managed_records(
        domain(MailboxType.GOOGLE, provider_verification="google-site-verification=tok123"),
        settings,
    )
    assert as_tuples(records) == NS_RECORDS | {
        ("acme-mail.test", "MX", "smtp.google.com", 1),
        ("acme-mail.test", "TXT", "v=spf1 include:_spf.google.com ~all", None),
        ("acme-mail.test", "TXT", "google-site-verification=tok123", None),
        ("_dmarc.acme-mail.test", "TXT", "v=DMARC1; p=none", None),
    }


def test_google_without_verification_has_no_token_and_a_bare_token_gets_its_prefix(
    settings: Settings,
) -> None:
    plain = managed_records(domain(MailboxType.GOOGLE), settings)
    assert not [r for r in plain if "verification" in r.content]
    bare = managed_records(domain(MailboxType.GOOGLE, provider_verification="tok"), settings)
    assert ("acme-mail.test", "TXT", "google-site-verification=tok", None) in as_tuples(bare)


def test_microsoft(settings: Settings) -> None:
    settings.microsoft_tenant_domain = "contoso.onmicrosoft.com"
    records = managed_records(
        domain(MailboxType.MICROSOFT, provider_verification="MS=ms12345678"), settings
    )
    assert as_tuples(records) == NS_RECORDS | {
        ("acme-mail.test", "MX", "acme-mail-test.mail.protection.outlook.com", 0),
        ("acme-mail.test", "TXT", "v=spf1 include:spf.protection.outlook.com -all", None),
        ("acme-mail.test", "TXT", "MS=ms12345678", None),
        ("autodiscover.acme-mail.test", "CNAME", "autodiscover.outlook.com", None),
        (
            "selector1._domainkey.acme-mail.test",
            "CNAME",
            "selector1-acme-mail-test._domainkey.contoso.onmicrosoft.com",
            None,
        ),
        (
            "selector2._domainkey.acme-mail.test",
            "CNAME",
            "selector2-acme-mail-test._domainkey.contoso.onmicrosoft.com",
            None,
        ),
        ("_dmarc.acme-mail.test", "TXT", "v=DMARC1; p=none", None),
    }


@pytest.mark.parametrize("mailbox_type", [MailboxType.SMTP, MailboxType.SMTP_DEDICATED])
def test_smtp_types(settings: Settings, mailbox_type: MailboxType) -> None:
    settings.mail_host = "Mail.Fleet.test."
    settings.spf_smtp_mechanisms = "mx  ip4:192.0.2.0/24"
    records = managed_records(
        domain(mailbox_type, dkim_selector="s2026", dkim_public_key=PUBLIC_KEY), settings
    )
    assert as_tuples(records) == NS_RECORDS | {
        ("acme-mail.test", "MX", "mail.fleet.test", 10),
        ("acme-mail.test", "TXT", "v=spf1 mx ip4:192.0.2.0/24 -all", None),
        ("s2026._domainkey.acme-mail.test", "TXT", dkim_txt(PUBLIC_KEY), None),
        ("_dmarc.acme-mail.test", "TXT", "v=DMARC1; p=none", None),
    }


def test_smtp_dkim_uses_the_default_selector_and_waits_for_a_key(settings: Settings) -> None:
    with_key = managed_records(domain(MailboxType.SMTP, dkim_public_key=PUBLIC_KEY), settings)
    assert f"{settings.dkim_selector}._domainkey.acme-mail.test" in {r.name for r in with_key}
    without = managed_records(domain(MailboxType.SMTP), settings)
    assert not [r for r in without if "_domainkey" in r.name]


# --- DMARC ---------------------------------------------------------------------------------


def test_dmarc_policy_and_reports(settings: Settings) -> None:
    record = templates.dmarc_record(
        domain(MailboxType.SMTP, dmarc_policy="Reject", dmarc_rua="a@x.test, mailto:b@y.test"),
        settings,
    )
    assert record == Record(
        "_dmarc.acme-mail.test",
        "TXT",
        "v=DMARC1; p=reject; rua=mailto:a@x.test,mailto:b@y.test",
        settings.dns_default_ttl,
    )


def test_dmarc_falls_back_to_the_settings(settings: Settings) -> None:
    settings.dmarc_default_policy = "quarantine"
    settings.dmarc_default_rua = "reports@mailfleet.test"
    record = templates.dmarc_record(domain(MailboxType.GOOGLE), settings)
    assert record.content == "v=DMARC1; p=quarantine; rua=mailto:reports@mailfleet.test"


@pytest.mark.parametrize(
    ("policy", "rua"), [("monitor", None), ("", None), ("none", "not-an-address")]
)
def test_bad_dmarc_settings_are_refused(settings: Settings, policy: str, rua: str | None) -> None:
    with pytest.raises(TemplateError):
        templates.dmarc_txt(policy, rua)


@pytest.mark.parametrize(
    "rua",
    ["reports@mailfleet.test;p=reject", "a@x.test; ruf=mailto:b@y.test", "a b@x.test", "a@x!10m"],
)
def test_report_addresses_from_settings_cannot_add_tags(settings: Settings, rua: str) -> None:
    settings.dmarc_default_rua = rua
    with pytest.raises(TemplateError, match="DMARC report address"):
        managed_records(domain(MailboxType.SMTP), settings)


@pytest.mark.parametrize(
    "mechanisms", ["mx +all", "redirect=_spf.evil.test", "mx; v=spf1 +all", 'include:"x']
)
def test_spf_mechanisms_from_settings_are_checked(settings: Settings, mechanisms: str) -> None:
    settings.spf_smtp_mechanisms = mechanisms
    with pytest.raises(TemplateError, match="SPF mechanism"):
        managed_records(domain(MailboxType.SMTP), settings)


def test_a_verification_token_must_be_one_word(settings: Settings) -> None:
    token = "tok123 v=spf1 +all"
    with pytest.raises(TemplateError, match="one printable word"):
        managed_records(domain(MailboxType.GOOGLE, provider_verification=token), settings)


def test_a_bad_policy_fails_the_whole_template(settings: Settings) -> None:
    with pytest.raises(TemplateError, match="DMARC policy"):
        managed_records(domain(MailboxType.SMTP, dmarc_policy="sometimes"), settings)


# --- forwarding ----------------------------------------------------------------------------


def test_forwarding_points_apex_and_www_at_the_web_front(settings: Settings) -> None:
    settings.forwarding_ipv4 = "192.0.2.80"
    settings.forwarding_ipv6 = "2001:db8::80"
    records = managed_records(domain(None, forwarding_url="https://example.org"), settings)
    assert as_tuples(records) == NS_RECORDS | {
        ("acme-mail.test", "A", "192.0.2.80", None),
        ("acme-mail.test", "AAAA", "2001:db8::80", None),
        ("www.acme-mail.test", "CNAME", "acme-mail.test", None),
    }
    settings.forwarding_ipv6 = ""
    no_v6 = managed_records(domain(None, forwarding_url="https://example.org"), settings)
    assert "AAAA" not in {r.type for r in no_v6}


# --- invariants ----------------------------------------------------------------------------


ALL_TYPES = [None, *MailboxType]


@pytest.mark.parametrize("mailbox_type", ALL_TYPES)
def test_one_spf_per_name_and_no_cname_beside_other_data(
    settings: Settings, mailbox_type: MailboxType | None
) -> None:
    records = managed_records(
        domain(
            mailbox_type,
            dkim_public_key=PUBLIC_KEY,
            forwarding_url="https://example.org",
            provider_verification="token",
        ),
        settings,
    )
    spf_names = Counter(r.name for r in records if templates.is_spf(r))
    assert all(count == 1 for count in spf_names.values())
    cname_names = {r.name for r in records if r.type == "CNAME"}
    assert all(Counter(r.name for r in records)[name] == 1 for name in cname_names), (
        "a CNAME must be alone at its name"
    )
    assert all(r.name == r.name.lower() and not r.name.endswith(".") for r in records)


def test_two_spf_records_on_a_name_are_refused() -> None:
    with pytest.raises(TemplateError, match="more than one SPF"):
        templates.check_single_spf(
            [Record("a.test", "TXT", "v=spf1 -all"), Record("a.test", "TXT", "V=SPF1 mx -all")]
        )
    templates.check_single_spf(
        [Record("a.test", "TXT", "v=spf1 -all"), Record("b.a.test", "TXT", "v=spf1 -all")]
    )


def test_managed_keys_are_the_rrsets(settings: Settings) -> None:
    records = managed_records(domain(MailboxType.GOOGLE, provider_verification="t"), settings)
    assert templates.managed_keys(records) == {
        ("acme-mail.test", "NS"),
        ("acme-mail.test", "MX"),
        ("acme-mail.test", "TXT"),
        ("_dmarc.acme-mail.test", "TXT"),
    }


def test_a_domain_row_is_a_template_input(settings: Settings) -> None:
    row = Domain(
        name="acme-mail.test",
        unicode_name="acme-mail.test",
        mailbox_type=MailboxType.GOOGLE,
        nameserver_1=NS1,
        nameserver_2=NS2,
        dmarc_policy="none",
    )
    assert ("acme-mail.test", "MX", "smtp.google.com", 1) in as_tuples(
        managed_records(row, settings)
    )


# --- validated with checkdmarc -------------------------------------------------------------


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[ZoneServer, ZoneResolver]]:
    server = ZoneServer()
    try:
        yield server, zone_resolver([server.address], timeout=0.5)
    finally:
        server.close()


@pytest.mark.parametrize(
    ("mailbox_type", "visible_lookups", "unresolved"),
    [
        (MailboxType.GOOGLE, 1, ["_spf.google.com"]),
        (MailboxType.MICROSOFT, 1, ["spf.protection.outlook.com"]),
        (MailboxType.SMTP, 1, []),
        (MailboxType.SMTP_DEDICATED, 1, []),
    ],
)
def test_spf_and_dmarc_pass_checkdmarc(
    settings: Settings,
    served: tuple[ZoneServer, ZoneResolver],
    mailbox_type: MailboxType,
    visible_lookups: int,
    unresolved: list[str],
) -> None:
    server, resolver = served
    name = f"{mailbox_type.value.lower().replace('_', '-')}.test"
    settings.mail_host = f"mx.{name}"
    subject = domain(
        mailbox_type,
        name=name,
        dkim_public_key=PUBLIC_KEY,
        dmarc_policy="reject",
        dmarc_rua=f"reports@{name}",
    )
    records = managed_records(subject, settings)
    zone = [*records, Record(f"mx.{name}", "A", "192.0.2.25")]
    text = export_domain_zone(name, NS1, 1, zone, settings)
    server.load(dns.zone.from_text(text, relativize=False))
    spf = next(r.content for r in records if templates.is_spf(r))
    dmarc = next(r.content for r in records if r.name == f"_dmarc.{name}")

    spf_check = validate_spf(spf, name, resolver)
    dmarc_result = checkdmarc.dmarc.parse_dmarc_record(dmarc, name, resolver=resolver)

    assert spf_check.valid, spf_check.error
    assert (spf_check.dns_lookups, spf_check.unresolved_includes) == (visible_lookups, unresolved)
    assert spf_check.lookups_ok
    assert dmarc_result["tags"]["p"]["value"] == "reject"
    assert dmarc_result["tags"]["rua"]["value"][0]["address"] == f"reports@{name}"
