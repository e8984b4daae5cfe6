"""The records Mailfleet writes into a zone (DnsRecord.managed) for a domain's mailbox type.

`managed_records` is a pure function of the domain's settings: the same domain always yields the
same records, so publishing is "replace the managed RRsets with these" and the health check
compares the zone against the same list.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Protocol

from mailfleet.config import MailboxType, Settings
from mailfleet.dns.dkim import dkim_name, dkim_txt
from mailfleet.dns.records import Record

DMARC_POLICIES = ("none", "quarantine", "reject")

# Google's current single MX. The legacy five-record set (1 aspmx.l.google.com,
# 5 alt1/alt2.aspmx.l.google.com, 10 alt3/alt4.aspmx.l.google.com) still works, but Google now
# tells new domains to publish this one record.
GOOGLE_MX = "smtp.google.com"
GOOGLE_MX_PRIORITY = 1
GOOGLE_SPF = "v=spf1 include:_spf.google.com ~all"
GOOGLE_VERIFICATION_PREFIX = "google-site-verification="

# What Graph's serviceConfigurationRecords returns for an Exchange Online domain. Newer tenants
# may be offered `<dashes>.<x>.mx.microsoft` (DNSSEC-capable MX); the classic host still works.
MICROSOFT_MX_SUFFIX = "mail.protection.outlook.com"
MICROSOFT_MX_PRIORITY = 0
MICROSOFT_SPF = "v=spf1 include:spf.protection.outlook.com -all"
MICROSOFT_AUTODISCOVER = "autodiscover.outlook.com"
MICROSOFT_VERIFICATION_PREFIX = "MS="
MICROSOFT_DKIM_SELECTORS = ("selector1", "selector2")

SMTP_MX_PRIORITY = 10
SMTP_TYPES = frozenset({MailboxType.SMTP, MailboxType.SMTP_DEDICATED})


class TemplateError(ValueError):
    """A domain setting that cannot become a valid record (bad DMARC policy, two SPFs...)."""


class DomainLike(Protocol):
    """The Domain fields templates read; a model row or any plain object with them."""

    @property
    def name(self) -> str: ...
    @property
    def mailbox_type(self) -> MailboxType | None: ...
    @property
    def nameserver_1(self) -> str: ...
    @property
    def nameserver_2(self) -> str: ...
    @property
    def dkim_selector(self) -> str | None: ...
    @property
    def dkim_public_key(self) -> str | None: ...
    @property
    def dmarc_policy(self) -> str | None: ...
    @property
    def dmarc_rua(self) -> str | None: ...
    @property
    def forwarding_url(self) -> str | None: ...
    @property
    def provider_verification(self) -> str | None: ...


def managed_records(domain: DomainLike, settings: Settings) -> list[Record]:
    """Every record Mailfleet owns in the domain's zone (the SOA is the provider's business)."""
    records = nameserver_records(domain, settings)
    records += mail_records(domain, settings)
    records += forwarding_records(domain, settings)
    check_single_spf(records)
    return records


def nameserver_records(domain: DomainLike, settings: Settings) -> list[Record]:
    ttl = settings.dns_default_ttl
    apex = _apex(domain)
    return [
        Record(apex, "NS", _host(domain.nameserver_1), ttl),
        Record(apex, "NS", _host(domain.nameserver_2), ttl),
    ]


def mail_records(domain: DomainLike, settings: Settings) -> list[Record]:
    """MX, SPF, DKIM, DMARC and ownership TXT for the mailbox type (none before it is known)."""
    mailbox_type = domain.mailbox_type
    if mailbox_type is None:
        return []
    if mailbox_type == MailboxType.GOOGLE:
        records = google_records(domain, settings)
    elif mailbox_type == MailboxType.MICROSOFT:
        records = microsoft_records(domain, settings)
    else:
        records = smtp_records(domain, settings)
    return [*records, dmarc_record(domain, settings)]


def google_records(domain: DomainLike, settings: Settings) -> list[Record]:
    # Google DKIM keys are created in the Admin console only (no API), so no DKIM record here:
    # the `google._domainkey` TXT is added by hand once Workspace shows it.
    ttl, apex = settings.dns_default_ttl, _apex(domain)
    records = [
        Record(apex, "MX", GOOGLE_MX, ttl, GOOGLE_MX_PRIORITY),
        Record(apex, "TXT", GOOGLE_SPF, ttl),
    ]
    if domain.provider_verification:
        token = _prefixed(domain.provider_verification, GOOGLE_VERIFICATION_PREFIX)
        records.append(Record(apex, "TXT", token, ttl))
    return records


def microsoft_records(domain: DomainLike, settings: Settings) -> list[Record]:
    ttl, apex = settings.dns_default_ttl, _apex(domain)
    records = [
        Record(apex, "MX", microsoft_mx_host(apex), ttl, MICROSOFT_MX_PRIORITY),
        Record(apex, "TXT", MICROSOFT_SPF, ttl),
        Record(f"autodiscover.{apex}", "CNAME", MICROSOFT_AUTODISCOVER, ttl),
    ]
    for selector in MICROSOFT_DKIM_SELECTORS:
        target = microsoft_dkim_target(selector, apex, settings.microsoft_tenant_domain)
        records.append(Record(dkim_name(selector, apex), "CNAME", target, ttl))
    if domain.provider_verification:
        token = _prefixed(domain.provider_verification, MICROSOFT_VERIFICATION_PREFIX)
        records.append(Record(apex, "TXT", token, ttl))
    return records


def smtp_records(domain: DomainLike, settings: Settings) -> list[Record]:
    ttl, apex = settings.dns_default_ttl, _apex(domain)
    records = [
        Record(apex, "MX", _host(settings.mail_host), ttl, SMTP_MX_PRIORITY),
        Record(apex, "TXT", smtp_spf(settings), ttl),
    ]
    # The key is generated when the domain gets its type; until then there is nothing to publish.
    if domain.dkim_public_key:
        selector = domain.dkim_selector or settings.dkim_selector
        records.append(
            Record(dkim_name(selector, apex), "TXT", dkim_txt(domain.dkim_public_key), ttl)
        )
    return records


def smtp_spf(settings: Settings) -> str:
    mechanisms = " ".join(spf_terms(settings.spf_smtp_mechanisms))
    return f"v=spf1 {mechanisms} -all" if mechanisms else "v=spf1 -all"


def dmarc_record(domain: DomainLike, settings: Settings) -> Record:
    policy = domain.dmarc_policy or settings.dmarc_default_policy
    rua = domain.dmarc_rua or settings.dmarc_default_rua
    return Record(
        f"_dmarc.{_apex(domain)}", "TXT", dmarc_txt(policy, rua), settings.dns_default_ttl
    )


def dmarc_txt(policy: str, rua: str | None = None) -> str:
    policy = policy.strip().lower()
    if policy not in DMARC_POLICIES:
        raise TemplateError(f"DMARC policy must be one of {', '.join(DMARC_POLICIES)}: {policy!r}")
    # Built from validated parts only: a known policy and checked report URIs.
    text = f"v=DMARC1; p={policy}"
    uris = _mailto(rua) if rua else ""
    if uris:
        text += f"; rua={uris}"
    return text


def forwarding_records(domain: DomainLike, settings: Settings) -> list[Record]:
    """Apex and www answer on Mailfleet's web front, which redirects to the forwarding URL."""
    if not domain.forwarding_url:
        return []
    ttl, apex = settings.dns_default_ttl, _apex(domain)
    records = [Record(apex, "A", settings.forwarding_ipv4, ttl)]
    if settings.forwarding_ipv6:
        records.append(Record(apex, "AAAA", settings.forwarding_ipv6, ttl))
    # A CNAME (not copies of the A/AAAA) so a changed forwarding address moves both names.
    records.append(Record(f"www.{apex}", "CNAME", apex, ttl))
    return records


def microsoft_mx_host(domain_name: str) -> str:
    """`acme-mail.com` -> `acme-mail-com.mail.protection.outlook.com`."""
    return f"{_dashed(domain_name)}.{MICROSOFT_MX_SUFFIX}"


def microsoft_dkim_target(selector: str, domain_name: str, tenant_domain: str) -> str:
    # The classic form Get-DkimSigningConfig returns; tenants set up since 2025 may be given
    # `...dkim.mail.microsoft` targets instead, which an operator then stores by hand.
    return f"{selector}-{_dashed(domain_name)}._domainkey.{_host(tenant_domain)}"


def is_spf(record: Record) -> bool:
    return record.type == "TXT" and record.content.lower().startswith("v=spf1")


def check_single_spf(records: Iterable[Record]) -> None:
    """RFC 7208 3.2: two SPF records on one name make every SPF check a permanent error."""
    counts = Counter(record.name for record in records if is_spf(record))
    doubled = sorted(name for name, count in counts.items() if count > 1)
    if doubled:
        raise TemplateError(f"more than one SPF record on {', '.join(doubled)}")


def managed_keys(records: Iterable[Record]) -> set[tuple[str, str]]:
    """The (name, type) RRsets the template owns: replaced on publish, checked for drift."""
    return {(record.name, record.type) for record in records}


def _apex(domain: DomainLike) -> str:
    return _host(domain.name)


def _host(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _dashed(domain_name: str) -> str:
    return _host(domain_name).replace(".", "-")


def _prefixed(value: str, prefix: str) -> str:
    value = _token(value)
    return value if value.lower().startswith(prefix.lower()) else prefix + value


def _mailto(rua: str) -> str:
    """`a@x.com, mailto:b@y.com` -> `mailto:a@x.com,mailto:b@y.com` (RFC 7489 6.4 URI list)."""
    return ",".join(f"mailto:{address}" for address in report_addresses(rua))


# What a DMARC report URI may carry. Stricter than RFC 5322 on purpose: the record is
# `tag=value; tag=value`, so `;` (a new tag), `,` (a new URI), `!` (a size limit), whitespace
# and quotes must never reach it from a setting or a request.
_REPORT_LOCAL = re.compile(r"^[a-z0-9](?:[a-z0-9._%+=-]{0,62}[a-z0-9_%+=-])?$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAILTO = "mailto:"


def report_addresses(value: str) -> list[str]:
    """The addresses of a DMARC `rua` value: comma-separated, each `a@x.com` or
    `mailto:a@x.com`; lower-case, without the scheme. Raises TemplateError naming the bad one."""
    addresses = []
    for part in value.split(","):
        address = part.strip().lower()
        if not address:
            continue
        if address.startswith(MAILTO):
            address = address[len(MAILTO) :]
        if not _report_address_ok(address):
            raise TemplateError(
                f"DMARC report address must be an email address or a mailto: URI of one "
                f"(letters, digits and . _ % + = - before the @, a host name after it): "
                f"{part.strip()[:100]!r}"
            )
        addresses.append(address)
    return addresses


def _report_address_ok(address: str) -> bool:
    local, at, host = address.partition("@")
    if not at or len(address) > 254 or not _REPORT_LOCAL.match(local) or ".." in local:
        return False
    labels = host.split(".")
    return (
        len(labels) >= 2
        and all(_HOST_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )


# SPF terms Mailfleet puts before its own `-all` (settings.spf_smtp_mechanisms): mechanisms
# only; `all` and `redirect=` would override the policy, anything else is not SPF.
_SPF_TERM = re.compile(
    r"^[+?~-]?(?:(?:a|mx)(?::[a-z0-9._-]+)?(?:/\d{1,3})?(?://\d{1,3})?"
    r"|ip4:[0-9./]+|ip6:[0-9a-f:./]+|(?:include|exists):[a-z0-9._%{}-]+|ptr(?::[a-z0-9._-]+)?)$"
)


def spf_terms(mechanisms: str) -> list[str]:
    terms = mechanisms.split()
    for term in terms:
        if not _SPF_TERM.match(term.lower()):
            raise TemplateError(f"not an SPF mechanism Mailfleet can publish: {term[:100]!r}")
    return terms


def _token(value: str) -> str:
    """A provider's ownership token: one printable ASCII word (it is quoted on the wire, but a
    space or a second `v=` would make a different record)."""
    token = value.strip()
    if not token or not all(0x21 <= ord(char) < 0x7F and char != '"' for char in token):
        raise TemplateError(f"provider verification token is not one printable word: {token!r}")
    return token
