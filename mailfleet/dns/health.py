"""The health check of an ACTIVE domain: is the zone, as its own servers serve it, what we wrote?

Every expected record is asked of each authoritative server directly (non-recursive queries, no
cache in between), so the answer is the zone as it is now, not as a resolver remembers it. The
published SPF and DMARC are then validated with checkdmarc and the DKIM key compared with the one
we hold. The report is plain JSON (Domain.health_report); `drift` means a record we manage was
changed or removed behind our back.

SPF lookups that leave the zone (include:_spf.google.com) go to the same servers, which usually
refuse them: such an include is reported as a warning and counted as one lookup, never an error,
so the check works without Internet access and never asks a third party.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import checkdmarc.dmarc
import checkdmarc.spf
import checkdmarc.utils
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
from dns.rdtypes.txtbase import TXTBase

from mailfleet.dns.dkim import published_key
from mailfleet.dns.records import Record, rdata_text

RecordStatus = Literal["present", "missing", "different", "unknown"]
# Large enough for a 2048-bit DKIM TXT over UDP; bigger answers fall back to TCP.
EDNS_PAYLOAD = 1232
# RFC 7208 4.6.4: at most 10 DNS-querying terms per SPF evaluation.
SPF_MAX_LOOKUPS = 10
DRIFT_STATUSES = frozenset({"missing", "different"})
NO_ANSWER = "no server answered the query"


class _ServerFailure(Exception):
    """A server gave no usable answer to one query (REFUSED, SERVFAIL, not authoritative)."""


class _Unreachable(Exception):
    """A server did not answer at all; the rest of its queries are skipped."""


@dataclass
class RecordCheck:
    name: str
    type: str
    expected: str
    status: RecordStatus
    observed: list[str] = field(default_factory=list)


@dataclass
class ServerCheck:
    server: str
    reachable: bool = True
    errors: list[str] = field(default_factory=list)


@dataclass
class SpfCheck:
    record: str | None
    valid: bool
    dns_lookups: int | None = None
    void_dns_lookups: int | None = None
    lookups_ok: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Include targets the zone's servers could not resolve: counted as one lookup each.
    unresolved_includes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.valid and self.lookups_ok


@dataclass
class DmarcCheck:
    record: str | None
    valid: bool
    policy: str | None = None
    rua: list[str] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class DkimCheck:
    name: str | None
    published: str | None
    match: bool
    error: str | None = None


@dataclass
class HealthReport:
    domain: str
    records: list[RecordCheck]
    servers: list[ServerCheck]
    spf: SpfCheck | None = None
    dmarc: DmarcCheck | None = None
    dkim: DkimCheck | None = None

    @property
    def drift(self) -> bool:
        """An expected record was changed or removed (not: a server could not be asked)."""
        return any(check.status in DRIFT_STATUSES for check in self.records)

    @property
    def ok(self) -> bool:
        return (
            all(check.status == "present" for check in self.records)
            and all(server.reachable and not server.errors for server in self.servers)
            and (self.spf is None or self.spf.ok)
            and (self.dmarc is None or self.dmarc.valid)
            and (self.dkim is None or self.dkim.match)
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["drift"] = self.drift
        return data


# --- entry point ---------------------------------------------------------------------------


def check_zone(
    domain_name: str,
    expected: Sequence[Record],
    servers: Sequence[str],
    *,
    dkim_public_key: str | None = None,
    timeout: float = 2.0,
) -> HealthReport:
    """Ask each of `servers` ("ip:port") for every expected record and validate SPF/DMARC/DKIM."""
    domain = domain_name.rstrip(".").lower()
    keys = sorted({(record.name.lower(), record.type) for record in expected})
    views: list[dict[tuple[str, str], list[str]]] = []
    server_checks: list[ServerCheck] = []
    for server in servers:
        view, check = _ask_server(server, keys, timeout)
        views.append(view)
        server_checks.append(check)
    records = [_compare(record, views) for record in expected]
    report = HealthReport(domain=domain, records=records, servers=server_checks)
    reachable = [check.server for check in server_checks if check.reachable]
    if not reachable:
        # Nothing to validate, and checkdmarc would only spend a timeout per lookup.
        return report
    first = _first_view(views)
    # Reachable servers only: a dead one would cost every SPF/DMARC lookup a timeout.
    resolver = zone_resolver(reachable, timeout)
    report.spf = _check_spf(domain, expected, first, resolver)
    report.dmarc = _check_dmarc(domain, expected, first, resolver)
    report.dkim = _check_dkim(expected, first, dkim_public_key)
    return report


# --- asking the authoritative servers ------------------------------------------------------


def parse_server(server: str) -> tuple[str, int]:
    """`127.0.0.1:5300`, `[::1]:5300`, or a bare address (port 53)."""
    server = server.strip()
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, 53


def _ask_server(
    server: str, keys: Sequence[tuple[str, str]], timeout: float
) -> tuple[dict[tuple[str, str], list[str]], ServerCheck]:
    """The server's answers by (name, type); a key is absent when its query failed."""
    host, port = parse_server(server)
    check = ServerCheck(server=server)
    view: dict[tuple[str, str], list[str]] = {}
    for name, rdtype in keys:
        try:
            view[(name, rdtype)] = _observe(name, rdtype, host, port, timeout)
        except _Unreachable as error:
            # A dead server would cost a full timeout per record; one is enough to know.
            check.reachable = False
            check.errors.append(f"{name} {rdtype}: {error}")
            break
        except _ServerFailure as error:
            check.errors.append(f"{name} {rdtype}: {error}")
    return view, check


def _observe(name: str, rdtype: str, host: str, port: int, timeout: float) -> list[str]:
    response = _query(name, rdtype, host, port, timeout)
    qname = dns.name.from_text(name)
    wanted = dns.rdatatype.from_text(rdtype)
    rrset = response.get_rrset(response.answer, qname, dns.rdataclass.IN, wanted)
    if rrset is not None:
        return sorted(_display(rdata) for rdata in rrset)
    # A CNAME where we expect other data: the name exists but says something else.
    cname = response.get_rrset(response.answer, qname, dns.rdataclass.IN, dns.rdatatype.CNAME)
    if cname is not None:
        return [f"CNAME {_display(rdata)}" for rdata in cname]
    return []


def _query(name: str, rdtype: str, host: str, port: int, timeout: float) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, use_edns=0, payload=EDNS_PAYLOAD)
    # Non-recursive: the server must answer from its own zone data, as the world will see it.
    query.flags &= ~dns.flags.RD
    try:
        response, _ = dns.query.udp_with_fallback(query, host, timeout=timeout, port=port)
    except (dns.exception.Timeout, OSError) as error:
        raise _Unreachable(_describe(error)) from error
    except dns.exception.DNSException as error:
        raise _ServerFailure(_describe(error)) from error
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise _ServerFailure(f"answered {dns.rcode.to_text(rcode)}")
    if not response.flags & dns.flags.AA:
        raise _ServerFailure("answer is not authoritative (zone not served here)")
    return response


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


# --- comparing -----------------------------------------------------------------------------


def _display(rdata: dns.rdata.Rdata) -> str:
    """One record's data in the form reports use: TXT as its whole text, names without dot."""
    if isinstance(rdata, TXTBase):
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return rdata.to_text().rstrip(".").lower()


def expected_text(record: Record) -> str:
    """The expected record in the same form as observed data, to compare the two as strings."""
    if record.type == "TXT":
        return record.content
    rdata = dns.rdata.from_text(
        dns.rdataclass.IN, record.type, rdata_text(record), origin=dns.name.root, relativize=False
    )
    return _display(rdata)


def _compare(record: Record, views: Sequence[dict[tuple[str, str], list[str]]]) -> RecordCheck:
    expected = expected_text(record)
    key = (record.name.lower(), record.type)
    answered = [view[key] for view in views if key in view]
    observed = sorted({value for values in answered for value in values})
    return RecordCheck(
        name=record.name,
        type=record.type,
        expected=expected,
        status=_status(expected, answered),
        observed=observed,
    )


def _status(expected: str, answered: Sequence[list[str]]) -> RecordStatus:
    """Worst view across the servers that answered: one stale server is enough to matter."""
    if not answered:
        return "unknown"
    if all(expected in values for values in answered):
        return "present"
    if any(not values for values in answered):
        return "missing"
    return "different"


def _first_view(
    views: Sequence[dict[tuple[str, str], list[str]]],
) -> dict[tuple[str, str], list[str]]:
    """Per (name, type), the first answer any server gave.

    SPF/DMARC/DKIM are judged on one answer; disagreement between servers already shows in the
    record statuses.
    """
    merged: dict[tuple[str, str], list[str]] = {}
    for view in views:
        for key, values in view.items():
            merged.setdefault(key, values)
    return merged


# --- SPF -----------------------------------------------------------------------------------


class ZoneResolver(dns.resolver.Resolver):
    """A resolver that asks only the zone's servers and remembers names they could not answer."""

    def __init__(self) -> None:
        super().__init__(configure=False)
        self.unanswered: set[str] = set()

    def resolve(self, *args: Any, **kwargs: Any) -> dns.resolver.Answer:  # type: ignore[override]
        try:
            return super().resolve(*args, **kwargs)
        except (dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout):
            qname = args[0] if args else kwargs.get("qname", "")
            self.unanswered.add(str(qname).rstrip(".").lower())
            raise


def zone_resolver(servers: Sequence[str], timeout: float) -> ZoneResolver:
    resolver = ZoneResolver()
    resolver.nameservers = [
        dns.nameserver.Do53Nameserver(*parse_server(server)) for server in servers
    ]
    resolver.use_edns(0, 0, EDNS_PAYLOAD)
    resolver.timeout = timeout
    # Short and bounded: a lookup the servers cannot answer costs at most this much.
    resolver.lifetime = timeout
    resolver.retry_servfail = False
    return resolver


def _check_spf(
    domain: str,
    expected: Sequence[Record],
    view: dict[tuple[str, str], list[str]],
    resolver: ZoneResolver,
) -> SpfCheck | None:
    if not any(_is_spf_text(r.content) for r in expected if r.type == "TXT" and _at(r, domain)):
        return None
    served = view.get((domain, "TXT"))
    if served is None:
        return SpfCheck(record=None, valid=False, error=NO_ANSWER)
    published = [text for text in served if _is_spf_text(text)]
    if not published:
        return SpfCheck(record=None, valid=False, error="no SPF record is published")
    if len(published) > 1:
        return SpfCheck(
            record=published[0], valid=False, error="more than one SPF record (RFC 7208 3.2)"
        )
    return validate_spf(published[0], domain, resolver)


def validate_spf(record: str, domain: str, resolver: ZoneResolver) -> SpfCheck:
    """Parse an SPF record with checkdmarc, resolving through `resolver` only.

    An include whose target the resolver cannot answer (no Internet, or a server that refuses
    names outside its zones) makes checkdmarc fail the whole record; instead it is dropped from
    the text, parsed again, and counted as one lookup plus a warning.
    """
    _forget_cached(domain)
    unresolved: list[str] = []
    text = record
    while True:
        resolver.unanswered.clear()
        try:
            result = checkdmarc.spf.parse_spf_record(text, domain, resolver=resolver)
        except checkdmarc.spf.SPFRecordNotFound as error:
            target = _unanswered_include(error, resolver, text)
            if target is None:
                return _spf_error(record, error, unresolved)
            unresolved.append(target)
            text = _drop_include(text, target)
            continue
        except (checkdmarc.spf.SPFTooManyDNSLookups, checkdmarc.spf.SPFTooManyVoidDNSLookups) as e:
            return _spf_over_limit(record, e, unresolved)
        except checkdmarc.spf.SPFError as error:
            return _spf_error(record, error, unresolved)
        return _spf_result(record, result, unresolved)


def _spf_result(record: str, result: Any, unresolved: list[str]) -> SpfCheck:
    lookups = int(result["dns_lookups"]) + len(unresolved)
    warnings = list(result["warnings"])
    warnings += [
        f"include:{target} could not be resolved from the zone's servers; "
        "counted as one lookup, its own lookups are not known"
        for target in unresolved
    ]
    return SpfCheck(
        record=record,
        valid=True,
        dns_lookups=lookups,
        void_dns_lookups=int(result["void_dns_lookups"]),
        lookups_ok=lookups <= SPF_MAX_LOOKUPS,
        warnings=warnings,
        unresolved_includes=unresolved,
    )


def _spf_over_limit(record: str, error: checkdmarc.spf.SPFError, unresolved: list[str]) -> SpfCheck:
    """Well-formed, but evaluating it exceeds RFC 7208 4.6.4's limits (a permerror at receivers)."""
    data = error.data or {}
    lookups = data.get("dns_lookups")
    voids = data.get("void_dns_lookups")
    return SpfCheck(
        record=record,
        valid=True,
        dns_lookups=None if lookups is None else int(lookups) + len(unresolved),
        void_dns_lookups=None if voids is None else int(voids),
        lookups_ok=False,
        error=str(error),
        warnings=list(error.warnings),
        unresolved_includes=unresolved,
    )


def _spf_error(record: str, error: Exception, unresolved: list[str]) -> SpfCheck:
    return SpfCheck(
        record=record,
        valid=False,
        error=str(error),
        warnings=list(getattr(error, "warnings", [])),
        unresolved_includes=unresolved,
    )


def _unanswered_include(
    error: checkdmarc.spf.SPFRecordNotFound, resolver: ZoneResolver, text: str
) -> str | None:
    """The include target that failed for lack of an answer (not NXDOMAIN), if it is ours."""
    target = str(getattr(error, "domain", "")).rstrip(".").lower()
    if target not in resolver.unanswered:
        return None
    # Only a top-level include can be dropped; one nested in an included record stays an error.
    return target if _include_pattern(target).search(text) else None


def _drop_include(text: str, target: str) -> str:
    return " ".join(_include_pattern(target).sub(" ", text).split())


def _include_pattern(target: str) -> re.Pattern[str]:
    return re.compile(rf"(?i)(?:^|\s)[-+~?]?include:{re.escape(target)}\.?(?=\s|$)")


def _forget_cached(domain: str) -> None:
    """Drop checkdmarc's cached answers for names in this zone.

    checkdmarc keeps one process-wide cache keyed by name and type, not by server: without this,
    a record changed since the last check (or seen on another server) would be judged stale.
    """
    cache = checkdmarc.utils.DNS_CACHE
    with cache.lock:
        for key in list(cache.keys()):
            name = str(key).rsplit("_", 2)[0]
            if name == domain or name.endswith("." + domain):
                cache.pop(key, None)


def _is_spf_text(text: str) -> bool:
    return text.lower().startswith("v=spf1")


def _at(record: Record, name: str) -> bool:
    return record.name.rstrip(".").lower() == name


# --- DMARC and DKIM ------------------------------------------------------------------------


def _check_dmarc(
    domain: str,
    expected: Sequence[Record],
    view: dict[tuple[str, str], list[str]],
    resolver: dns.resolver.Resolver,
) -> DmarcCheck | None:
    name = f"_dmarc.{domain}"
    if not any(_at(record, name) and record.type == "TXT" for record in expected):
        return None
    served = view.get((name, "TXT"))
    if served is None:
        return DmarcCheck(record=None, valid=False, error=NO_ANSWER)
    published = [text for text in served if text.lower().startswith("v=dmarc1")]
    if not published:
        return DmarcCheck(record=None, valid=False, error="no DMARC record is published")
    if len(published) > 1:
        return DmarcCheck(record=published[0], valid=False, error="more than one DMARC record")
    return validate_dmarc(published[0], domain, resolver)


def validate_dmarc(record: str, domain: str, resolver: dns.resolver.Resolver) -> DmarcCheck:
    _forget_cached(domain)
    try:
        result = checkdmarc.dmarc.parse_dmarc_record(record, domain, resolver=resolver)
    except checkdmarc.dmarc.DMARCError as error:
        return DmarcCheck(record=record, valid=False, error=str(error))
    tags = result["tags"]
    rua = tags.get("rua", {}).get("value") or []
    return DmarcCheck(
        record=record,
        valid=True,
        policy=str(tags["p"]["value"]),
        rua=[f"{uri['scheme']}:{uri['address']}" for uri in rua],
        warnings=list(result.get("warnings", [])),
    )


def _check_dkim(
    expected: Sequence[Record],
    view: dict[tuple[str, str], list[str]],
    public_key: str | None,
) -> DkimCheck | None:
    if public_key is None:
        return None
    record = next(
        (r for r in expected if r.type == "TXT" and published_key(r.content) is not None), None
    )
    if record is None:
        return DkimCheck(name=None, published=None, match=False, error="no DKIM record expected")
    served = view.get((record.name.lower(), "TXT"))
    if served is None:
        return DkimCheck(name=record.name, published=None, match=False, error=NO_ANSWER)
    published = next((key for key in map(published_key, served) if key is not None), None)
    if published is None:
        return DkimCheck(name=record.name, published=None, match=False, error="not published")
    return DkimCheck(
        name=record.name, published=published, match=published == "".join(public_key.split())
    )
