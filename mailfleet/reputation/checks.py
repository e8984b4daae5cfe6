"""DNSBL queries: is a domain or an IP on a list, asked through a resolver with dnspython.

A domain is asked as `name.zone` (Spamhaus DBL, SURBL), an IP as its reversed octets under the
zone (`4.3.2.1.zen.spamhaus.org` for 1.2.3.4; IPv6 as reversed nibbles). An A answer in
127.0.0.0/8 means listed, its address the list's return code (127.0.1.2: DBL spam domain), and a
TXT query under the same name gives the reason. NXDOMAIN (or no A record) means not listed.

Spamhaus answers 127.255.255.252/254/255 when it refuses the query (typo in the zone, a public
resolver, too many queries): that is no verdict, recorded as an error, never as a listing. So is
an answer outside 127/8 (a resolver that rewrites NXDOMAIN) and a timeout.

Every query waits for a token of one `TokenBucket` shared by a whole sweep: the lists' query
rules are per client, so the budget is too. The clock and sleep are injectable: tests count the
queries per second of a fake clock instead of timing a real one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from mailfleet.config import Settings
from mailfleet.dns.addresses import parse_server

REFUSAL_PREFIX = "127.255.255."
LISTED = ipaddress.ip_network("127.0.0.0/8")
# Queries in flight at once; the bucket, not this, sets the rate.
CONCURRENCY = 64


class TokenBucket:
    """At most `rate` tokens a second, evenly spaced (a burst of one): in any second of the
    clock no more than `rate` queries leave, whatever the number of waiting tasks.

    Thread-safe and loop-free (a slot is reserved under a threading lock, then slept for), so
    one bucket serves every worker thread and request of a process: the lists count queries
    per client, not per job.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next: float | None = None
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Seconds to wait before the caller's query may leave."""
        with self._lock:
            now = self.clock()
            slot = now if self._next is None else max(now, self._next)
            self._next = slot + self.interval
            return slot - now

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self.sleep(wait)


_buckets: dict[float, TokenBucket] = {}
_buckets_lock = threading.Lock()


def shared_bucket(settings: Settings) -> TokenBucket:
    """The process's bucket for the configured budget."""
    rate = settings.dnsbl_queries_per_second
    with _buckets_lock:
        return _buckets.setdefault(rate, TokenBucket(rate))


@dataclass(frozen=True)
class Query:
    subject: str
    zone: str
    is_ip: bool

    @property
    def name(self) -> str:
        return f"{query_label(self.subject, self.is_ip)}.{self.zone}"


@dataclass
class Verdict:
    """One zone's answer about one subject: listed (with code and reason), clean, or an error."""

    subject: str
    zone: str
    listed: bool = False
    return_code: str | None = None
    reason: str | None = None
    error: str | None = None


@dataclass
class Resolvers:
    """The resolvers DNSBL queries go to, used in turn."""

    servers: list[tuple[str, int]]
    timeout: float
    _turn: itertools.cycle[tuple[str, int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(self.servers)

    def next(self) -> tuple[str, int]:
        return next(self._turn)


def resolvers_from(settings: Settings) -> Resolvers:
    """dnsbl_resolvers, else the deployment's dns_resolvers, else the system's."""
    configured = settings.dnsbl_resolvers or settings.dns_resolvers
    if configured:
        servers = [parse_server(address) for address in configured]
    else:
        import dns.resolver

        system = dns.resolver.get_default_resolver()
        servers = [(str(address), 53) for address in system.nameservers]
    return Resolvers(servers, settings.dnsbl_timeout_seconds)


def query_label(subject: str, is_ip: bool) -> str:
    if not is_ip:
        return subject.rstrip(".")
    # reverse_pointer: "4.3.2.1.in-addr.arpa" / nibbles ".ip6.arpa"; the list wants the labels.
    pointer = ipaddress.ip_address(subject).reverse_pointer
    return pointer.rsplit(".", 2)[0]


def queries_for(domains: Sequence[str], ips: Sequence[str], settings: Settings) -> list[Query]:
    return [
        Query(domain, zone, False) for domain in domains for zone in settings.dnsbl_domain_zones
    ] + [Query(ip, zone, True) for ip in ips for zone in settings.dnsbl_ip_zones]


async def _ask(
    name: str, rdtype: dns.rdatatype.RdataType, resolvers: Resolvers, bucket: TokenBucket
) -> dns.message.Message:
    await bucket.acquire()
    host, port = resolvers.next()
    request = dns.message.make_query(name, rdtype)
    return await dns.asyncquery.udp(request, host, port=port, timeout=resolvers.timeout)


def _addresses(response: dns.message.Message, name: str) -> list[str]:
    owner = dns.name.from_text(name)
    return [
        rdata.address
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.A and rrset.name == owner
        for rdata in rrset
    ]


async def check_one(query: Query, resolvers: Resolvers, bucket: TokenBucket) -> Verdict:
    verdict = Verdict(query.subject, query.zone)
    try:
        response = await _ask(query.name, dns.rdatatype.A, resolvers, bucket)
    except (dns.exception.DNSException, OSError) as exc:
        verdict.error = f"no answer: {exc.__class__.__name__}"
        return verdict
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return verdict
    if rcode != dns.rcode.NOERROR:
        verdict.error = f"resolver answered {dns.rcode.to_text(rcode)}"
        return verdict
    addresses = _addresses(response, query.name)
    if not addresses:
        return verdict
    code = sorted(addresses)[0]
    if code.startswith(REFUSAL_PREFIX):
        verdict.error = f"query refused by the list ({code})"
        return verdict
    if ipaddress.ip_address(code) not in LISTED:
        verdict.error = f"unexpected answer {code} (a resolver rewriting NXDOMAIN?)"
        return verdict
    verdict.listed, verdict.return_code = True, code
    verdict.reason = await _reason(query.name, resolvers, bucket)
    return verdict


async def _reason(name: str, resolvers: Resolvers, bucket: TokenBucket) -> str | None:
    # The reason is a nicety: a listing stands without it.
    try:
        response = await _ask(name, dns.rdatatype.TXT, resolvers, bucket)
    except (dns.exception.DNSException, OSError):
        return None
    texts = [
        b"".join(rdata.strings).decode("utf-8", "replace")
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for rdata in rrset
    ]
    return "; ".join(texts)[:1000] or None


async def check_all(
    queries: Sequence[Query], resolvers: Resolvers, bucket: TokenBucket
) -> list[Verdict]:
    """Every query, in parallel under the bucket; verdicts in the order of `queries`."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(query: Query) -> Verdict:
        async with gate:
            return await check_one(query, resolvers, bucket)

    return list(await asyncio.gather(*(run(query) for query in queries)))


def run(
    queries: Sequence[Query], settings: Settings, bucket: TokenBucket | None = None
) -> list[Verdict]:
    """Blocking entry point for jobs and endpoints (no transaction may be open around it)."""
    bucket = bucket or shared_bucket(settings)
    return asyncio.run(check_all(queries, resolvers_from(settings), bucket))
