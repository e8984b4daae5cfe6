"""Is a domain delegated to the nameservers we assigned? Asked the way a resolver would.

A recursive resolver answers from its cache (TLD NS TTLs run to days, negative answers are
cached too), so this asks the parent zone's own servers instead (integrations.md 3.4):

1. the parent zone comes from the public suffix list (acme.co.uk -> co.uk);
2. its servers come from `settings.dns_parent_servers` (longest suffix match), are Mailfleet's
   own builtin server for a local TLD (`dns.localtld`), or are resolved (NS, then their
   addresses, through `settings.dns_resolvers` when set) and cached per parent;
3. every parent server gets a non-recursive `NS <domain>` query: a referral (NS set in the
   authority section, AA clear) or an authoritative NS answer says where the domain points;
   NXDOMAIN or no NS set means not delegated. Every server must answer with the expected set;
4. every assigned nameserver is asked for the zone's SOA, non-recursively: it must answer with
   AA set, or resolvers that follow the delegation get a lame answer.

The queries themselves (shared UDP sockets, TCP for truncated answers, reading the wire) are
in `mailfleet.dns.transport`; where the assigned servers answer is `mailfleet.dns.addresses`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

from mailfleet.config import Settings
from mailfleet.dns.addresses import (
    NameserverAddresses,
    Server,
    builtin_server,
    normalise,
    parse_server,
    server_label,
    server_table,
)
from mailfleet.dns.localtld import local_tld_of
from mailfleet.dns.suffixes import public_suffix
from mailfleet.dns.transport import SENDS, Reply, Run, describe_error, question, scan

# The transport's and the addresses' names stay importable from here, as before the split.
__all__ = [
    "DEFAULT_CONCURRENCY",
    "DISCOVERY_TTL",
    "SENDS",
    "CheckItem",
    "DelegationChecker",
    "Diagnosis",
    "NameserverAnswer",
    "ParentAnswer",
    "Reply",
    "Server",
    "delegated_reason",
    "describe_error",
    "nameserver_problem",
    "normalise",
    "parent_problem",
    "parent_zone",
    "parse_server",
    "question",
    "rcode_text",
    "read_parent",
    "read_soa",
    "scan",
    "server_label",
]

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 256
# Parent servers and nameserver addresses change rarely; re-resolve them after this long.
DISCOVERY_TTL = 3600.0
# A domain and the nameservers it should be delegated to; with its DNS provider, when known,
# so a zone of the builtin provider is asked at Mailfleet's own server (see dns.addresses).
CheckItem = tuple[str, Sequence[str]] | tuple[str, Sequence[str], str | None]


# --- results ---


@dataclass
class ParentAnswer:
    server: str
    rcode: str | None = None
    nameservers: list[str] = field(default_factory=list)
    # True when the parent answered with AA (it also hosts the child), False for a referral.
    authoritative: bool = False
    error: str | None = None


@dataclass
class NameserverAnswer:
    nameserver: str
    server: str
    authoritative: bool = False
    serial: int | None = None
    error: str | None = None


@dataclass
class Diagnosis:
    domain: str
    parent_zone: str
    expected: list[str]
    parents: list[ParentAnswer]
    nameservers: list[NameserverAnswer]
    delegated: bool
    reason: str

    @property
    def ok(self) -> bool:
        return self.delegated

    def to_dict(self) -> dict[str, Any]:
        """The same as dataclasses.asdict, which deep-copies field by field: that was a tenth
        of a verification job's time over 10,000 domains; this copies only the lists."""
        return {
            **vars(self),
            "expected": list(self.expected),
            "parents": [{**vars(a), "nameservers": list(a.nameservers)} for a in self.parents],
            "nameservers": [dict(vars(a)) for a in self.nameservers],
        }


# --- names and addresses ---


def parent_zone(domain: str) -> str:
    """The zone a registrar delegates `domain` from: its public suffix (acme.co.uk -> co.uk)."""
    name = normalise(domain)
    suffix = public_suffix(name)
    if suffix is None or suffix == name:
        # A bare suffix or an unknown name: its parent is one label up.
        return name.partition(".")[2]
    return suffix


def _longest_suffix(name: str, table: Mapping[str, object]) -> str | None:
    labels = name.split(".")
    for start in range(1, len(labels)):
        suffix = ".".join(labels[start:])
        if suffix in table:
            return suffix
    return None


# --- reading answers ---


def rcode_text(code: int) -> str:
    try:
        return dns.rcode.Rcode(code).name
    except ValueError:
        return f"RCODE{code}"


def _host(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def read_parent(server: str, domain: dns.name.Name, reply: Reply) -> ParentAnswer:
    """What one parent server says about the domain's NS set."""
    answer = ParentAnswer(server, rcode_text(reply.rcode), authoritative=reply.authoritative)
    if reply.rcode == dns.rcode.NXDOMAIN:
        return answer
    if reply.rcode != dns.rcode.NOERROR:
        answer.error = f"answered {answer.rcode}"
        return answer
    # A referral carries the child's NS set in the authority section with AA clear; a parent
    # that also hosts the child answers it with AA set.
    section = reply.answer if reply.authoritative else reply.authority
    found = {
        _host(value)
        for owner, rdtype, value in section
        if rdtype == dns.rdatatype.NS and owner == domain and isinstance(value, dns.name.Name)
    }
    if found:
        answer.nameservers = sorted(found)
        return answer
    for owner, rdtype, _ in section:
        if rdtype == dns.rdatatype.NS and not reply.authoritative and domain.is_subdomain(owner):
            zone = _host(owner) or "."
            answer.error = f"referred to the servers of {zone}: not a server of the parent zone"
            break
    return answer


def read_soa(nameserver: str, server: str, domain: dns.name.Name, reply: Reply) -> NameserverAnswer:
    """Whether one assigned server answers the zone's SOA authoritatively."""
    answer = NameserverAnswer(nameserver, server)
    if reply.rcode != dns.rcode.NOERROR:
        answer.error = f"answered {rcode_text(reply.rcode)}: it does not serve the zone"
    elif not reply.authoritative:
        answer.error = "answered without the AA flag: it does not serve the zone"
    else:
        for owner, rdtype, value in reply.answer:
            if rdtype == dns.rdatatype.SOA and owner == domain and isinstance(value, int):
                answer.serial = value
                answer.authoritative = True
        if not answer.authoritative:
            answer.error = "answered without the zone's SOA: the zone starts elsewhere"
    return answer


def parent_problem(diagnosis: Diagnosis) -> str | None:
    """Why the parent's servers do not (all) delegate to the expected set, or None."""
    failing = [answer for answer in diagnosis.parents if _parent_failure(diagnosis, answer)]
    if not failing:
        return None
    first = failing[0]
    reason = f"parent {first.server} {_parent_failure(diagnosis, first)}"
    if len(diagnosis.parents) > 1:
        reason += f" ({len(failing)} of {len(diagnosis.parents)} parent servers disagree)"
    return reason


def _parent_failure(diagnosis: Diagnosis, answer: ParentAnswer) -> str | None:
    domain, expected = diagnosis.domain, diagnosis.expected
    if answer.error:
        return answer.error if answer.rcode else f"did not answer: {answer.error}"
    if answer.rcode == "NXDOMAIN":
        return f"answered NXDOMAIN: {domain} is not delegated (or not registered)"
    if not answer.nameservers:
        return f"has no NS records for {domain}: not delegated"
    if answer.nameservers != expected:
        return f"delegates to {', '.join(answer.nameservers)}; expected {', '.join(expected)}"
    return None


def nameserver_problem(diagnosis: Diagnosis) -> str | None:
    for answer in diagnosis.nameservers:
        if not answer.authoritative:
            where = f"{answer.nameserver} ({answer.server})" if answer.server else answer.nameserver
            return (
                f"the parent delegates to {', '.join(diagnosis.expected)}, but {where} is not "
                f"authoritative for {diagnosis.domain}: {answer.error}"
            )
    return None


def delegated_reason(diagnosis: Diagnosis) -> str:
    serials = sorted({answer.serial for answer in diagnosis.nameservers if answer.serial})
    reason = (
        f"delegated to {', '.join(diagnosis.expected)} by {len(diagnosis.parents)} parent "
        f"server(s); {len(diagnosis.nameservers)} assigned server(s) answer authoritatively"
    )
    if len(serials) > 1:
        # Not a failure: secondaries lag for a moment after every change.
        return f"{reason}, serials differ: {', '.join(map(str, serials))}"
    return f"{reason} (serial {serials[0]})" if serials else reason


# --- where the servers are ---


class _Discovery:
    """Parent servers and nameserver addresses: from settings, else resolved and cached."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._parents = server_table(settings.dns_parent_servers)
        self._addresses = NameserverAddresses(settings)
        self._resolvers = [parse_server(address) for address in settings.dns_resolvers]
        self._timeout = settings.dns_query_timeout
        self._cache: dict[str, tuple[float, list[Server]]] = {}

    def parent_of(self, domain: str) -> tuple[str, list[Server] | None]:
        """The parent zone and, when settings name them, its servers."""
        zone = parent_zone(domain)
        override = _longest_suffix(domain, self._parents)
        if override is None:
            tld = local_tld_of(domain, self._settings)
            if tld is not None:
                # A local TLD's registry is Mailfleet's own server (dns.localtld).
                return tld, [builtin_server(self._settings)]
            return zone, None
        # A configured suffix deeper than the public suffix is the zone that delegates.
        if len(override) > len(zone):
            zone = override
        return zone, self._parents[override]

    def configured_addresses(self, provider: str | None, host: str) -> list[Server] | None:
        return self._addresses.configured(provider, host)

    async def resolve_parent(self, zone: str) -> list[Server]:
        async def servers(resolver: dns.asyncresolver.Resolver) -> list[Server]:
            hosts = await self._parent_hosts(resolver, zone)
            lists = await asyncio.gather(*(self._host_addresses(resolver, h) for h in hosts))
            return sorted({server for found in lists for server in found})

        return await self._cached(f"parent:{zone}", servers)

    async def resolve_host(self, host: str) -> list[Server]:
        return await self._cached(f"host:{host}", lambda r: self._host_addresses(r, host))

    async def _cached(
        self, key: str, resolve: Callable[[dns.asyncresolver.Resolver], Awaitable[list[Server]]]
    ) -> list[Server]:
        found = self._cache.get(key)
        if found is not None and found[0] > time.monotonic():
            return found[1]
        servers = await resolve(self._resolver())
        if not servers:
            raise LookupError(f"no addresses found for {key.partition(':')[2]}")
        self._cache[key] = (time.monotonic() + DISCOVERY_TTL, servers)
        return servers

    def _resolver(self) -> dns.asyncresolver.Resolver:
        try:
            resolver = dns.asyncresolver.Resolver(configure=not self._resolvers)
        except dns.resolver.NoResolverConfiguration as exc:
            raise LookupError("no resolver configured (set MAILFLEET_DNS_RESOLVERS)") from exc
        if self._resolvers:
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in self._resolvers
            ]
        resolver.timeout = self._timeout
        resolver.lifetime = self._timeout * SENDS
        return resolver

    async def _parent_hosts(self, resolver: dns.asyncresolver.Resolver, zone: str) -> list[str]:
        # A public suffix is not always a zone cut (some PSL entries are not): walk up.
        name = zone
        while name:
            try:
                answer = await resolver.resolve(name, "NS")
                return sorted({_host(rdata.target) for rdata in answer})
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                name = name.partition(".")[2]
            except dns.exception.DNSException as exc:
                raise LookupError(f"NS {name}: {exc}") from exc
        raise LookupError(f"no NS records for {zone} or its parents")

    async def _host_addresses(
        self, resolver: dns.asyncresolver.Resolver, host: str
    ) -> list[Server]:
        # IPv4 first: many hosts have no IPv6 route, and one unreachable parent address
        # would make every domain under it look undelegated.
        for rdtype in ("A", "AAAA"):
            try:
                answer = await resolver.resolve(host, rdtype)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException as exc:
                raise LookupError(f"{rdtype} {host}: {exc}") from exc
            return sorted((rdata.address, 53) for rdata in answer)
        return []


# --- the checker ---


class DelegationChecker:
    """Checks delegations; keep one per process to reuse its parent-server cache."""

    def __init__(self, settings: Settings, *, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self._timeout = settings.dns_query_timeout
        self._concurrency = max(1, concurrency)
        self._discovery = _Discovery(settings)

    def check(self, name: str, expected: Sequence[str], provider: str | None = None) -> Diagnosis:
        """Check one domain from synchronous code (not from inside a running event loop)."""
        return asyncio.run(self.check_many([(name, expected, provider)]))[0]

    async def check_many(self, items: Sequence[CheckItem]) -> list[Diagnosis]:
        """One diagnosis per (domain, expected nameservers[, provider]), in order.

        Never raises for DNS: what went wrong is in the diagnosis.
        """
        results: list[Diagnosis | None] = [None] * len(items)
        work = iter(enumerate(items))
        run = Run(self._timeout)

        async def worker() -> None:
            # A fixed pool pulling from one iterator: no task or semaphore per domain.
            for index, item in work:
                results[index] = await self._check_safely(run, *item)

        try:
            workers = min(self._concurrency, len(items))
            await asyncio.gather(*(worker() for _ in range(workers)))
        finally:
            run.close()
        return [diagnosis for diagnosis in results if diagnosis is not None]

    async def _check_safely(
        self, run: Run, name: str, expected: Sequence[str], provider: str | None = None
    ) -> Diagnosis:
        try:
            return await self._check(run, name, expected, provider)
        except Exception as exc:  # one odd domain must not sink the batch
            logger.exception("delegation check of %s failed", name)
            domain = normalise(name)
            expected_names = sorted({normalise(ns) for ns in expected})
            reason = f"check failed: {type(exc).__name__}: {exc}"
            return Diagnosis(domain, parent_zone(domain), expected_names, [], [], False, reason)

    async def _check(
        self, run: Run, name: str, expected: Sequence[str], provider: str | None
    ) -> Diagnosis:
        domain = normalise(name)
        zone, servers = self._discovery.parent_of(domain)
        wanted = sorted({normalise(ns) for ns in expected})
        diagnosis = Diagnosis(domain, zone, wanted, [], [], False, "")
        if not wanted:
            diagnosis.reason = "no nameservers are assigned to the domain"
            return diagnosis
        if servers is None:
            try:
                servers = await run.once(
                    f"parent:{zone}", lambda: self._discovery.resolve_parent(zone)
                )
            except LookupError as exc:
                diagnosis.reason = f"could not find the servers of the parent zone {zone}: {exc}"
                return diagnosis
        qname = dns.name.from_text(domain)
        diagnosis.parents = await self._ask_parents(run, servers, qname)
        problem = parent_problem(diagnosis)
        if problem is None:
            diagnosis.nameservers = await self._ask_nameservers(run, wanted, provider, qname)
            problem = nameserver_problem(diagnosis)
        diagnosis.delegated = problem is None
        diagnosis.reason = problem or delegated_reason(diagnosis)
        return diagnosis

    async def _ask_parents(
        self, run: Run, servers: Sequence[Server], qname: dns.name.Name
    ) -> list[ParentAnswer]:
        answers = []
        responses = await run.query_all(servers, qname, dns.rdatatype.NS)
        for server, response in zip(servers, responses, strict=True):
            label = server_label(server)
            if isinstance(response, Reply):
                answers.append(read_parent(label, qname, response))
            else:
                answers.append(ParentAnswer(label, error=describe_error(response, self._timeout)))
        return answers

    async def _ask_nameservers(
        self, run: Run, hosts: Sequence[str], provider: str | None, qname: dns.name.Name
    ) -> list[NameserverAnswer]:
        answers: list[NameserverAnswer] = []
        targets: list[tuple[str, Server]] = []
        for host in hosts:
            try:
                addresses = await self._addresses(run, provider, host)
            except LookupError as exc:
                answers.append(NameserverAnswer(host, "", error=f"could not resolve: {exc}"))
                continue
            targets += [(host, server) for server in addresses]
        servers = [server for _, server in targets]
        responses = await run.query_all(servers, qname, dns.rdatatype.SOA)
        for (host, server), response in zip(targets, responses, strict=True):
            label = server_label(server)
            if isinstance(response, Reply):
                answers.append(read_soa(host, label, qname, response))
            else:
                error = describe_error(response, self._timeout)
                answers.append(NameserverAnswer(host, label, error=error))
        return answers

    async def _addresses(self, run: Run, provider: str | None, host: str) -> list[Server]:
        configured = self._discovery.configured_addresses(provider, host)
        if configured is not None:
            return configured
        return await run.once(f"host:{host}", lambda: self._discovery.resolve_host(host))
