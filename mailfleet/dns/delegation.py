"""Is a domain delegated to the nameservers we assigned? Asked the way a resolver would.

A recursive resolver answers from its cache (TLD NS TTLs run to days, negative answers are
cached too), so this asks the parent zone's own servers instead (integrations.md 3.4):

1. the parent zone comes from the public suffix list (acme.co.uk -> co.uk);
2. its servers come from `settings.dns_parent_servers` (longest suffix match) or are resolved
   (NS, then their addresses) and cached per parent;
3. every parent server gets a non-recursive `NS <domain>` query: a referral (NS set in the
   authority section, AA clear) or an authoritative NS answer says where the domain points;
   NXDOMAIN or no NS set means not delegated. Every server must answer with the expected set;
4. every assigned nameserver is asked for the zone's SOA, non-recursively: it must answer with
   AA set, or resolvers that follow the delegation get a lame answer.

Thousands of domains are checked at once: queries to one server share one connected UDP socket
and are matched to answers by message id (and question), with our own timeout and one resend,
so a check costs a few datagrams and no sockets or tasks of its own. dnspython parses answers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.wire

from mailfleet.config import Settings
from mailfleet.domains.names import _psl as public_suffixes

Server = tuple[str, int]
logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 256
# Sends per query: the first and one resend halfway through the timeout (UDP may drop).
SENDS = 2
# Parent servers and nameserver addresses change rarely; re-resolve them after this long.
DISCOVERY_TTL = 3600.0
# EDNS0 OPT record advertising 1232 bytes (the DNS flag day 2020 size): referrals with many NS
# and glue records fit without falling back to TCP.
_OPT = b"\x00" + struct.pack("!HHIH", dns.rdatatype.OPT, 1232, 0, 0)
_HEADER = struct.Struct("!HHHHHH")
_TYPE_CLASS = struct.Struct("!HH")
_SERIAL = struct.Struct("!I")
_RCVBUF = 1 << 20


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
        return asdict(self)


# --- names and addresses ---


def normalise(name: str) -> str:
    return name.strip().lower().rstrip(".")


def parent_zone(domain: str) -> str:
    """The zone a registrar delegates `domain` from: its public suffix (acme.co.uk -> co.uk)."""
    name = normalise(domain)
    suffix = public_suffixes.publicsuffix(name)
    if suffix is None or suffix == name:
        # A bare suffix or an unknown name: its parent is one label up.
        return name.partition(".")[2]
    return str(suffix)


def parse_server(text: str) -> Server:
    """ "ip", "ip:port", "[v6]:port" or a bare IPv6 address; port 53 by default."""
    text = text.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        return host, int(port.lstrip(":") or 53)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


def server_label(server: Server) -> str:
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _longest_suffix(name: str, table: Mapping[str, object]) -> str | None:
    labels = name.split(".")
    for start in range(1, len(labels)):
        suffix = ".".join(labels[start:])
        if suffix in table:
            return suffix
    return None


# --- UDP transport: one connected socket per server, answers matched by id ---


class _Query:
    __slots__ = ("qid", "question", "wire", "future", "sends_left", "timer")

    def __init__(self, qid: int, question: bytes, future: asyncio.Future[bytes]) -> None:
        self.qid = qid
        self.question = question
        self.wire = _HEADER.pack(qid, 0, 1, 0, 0, 1) + question + _OPT
        self.future = future
        self.sends_left = SENDS
        self.timer: asyncio.TimerHandle | None = None


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, _Query] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12 or not data[2] & 0x80:
            return
        query = self.pending.get(int.from_bytes(data[:2], "big"))
        if query is None or query.future.done():
            return
        # The answer must echo our question: an id alone is a 1-in-65536 guess.
        if data[12 : 12 + len(query.question)].lower() != query.question.lower():
            return
        query.future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # On a connected socket this is the server's ICMP "port unreachable": it concerns every
        # query in flight to that server, not one of them.
        self._fail_all(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(exc or ConnectionError("socket closed"))

    def _fail_all(self, exc: Exception) -> None:
        for query in self.pending.values():
            if not query.future.done():
                query.future.set_exception(exc)

    def new_id(self) -> int:
        while True:
            qid = secrets.randbits(16)
            if qid not in self.pending:
                return qid


class _Run:
    """One check_many call: its sockets (they belong to its event loop), look-ups in flight."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._endpoints: dict[Server, _Endpoint] = {}
        self._opening: dict[Server, asyncio.Future[_Endpoint]] = {}
        self._lookups: dict[str, asyncio.Future[list[Server]]] = {}

    async def once(self, key: str, make: Callable[[], Awaitable[list[Server]]]) -> list[Server]:
        """One look-up per key however many domains wait for it."""
        future = self._lookups.get(key)
        if future is None:
            future = self._lookups[key] = asyncio.ensure_future(make())
        return await future

    async def endpoint(self, server: Server) -> _Endpoint:
        found = self._endpoints.get(server)
        if found is not None:
            return found
        opening = self._opening.get(server)
        if opening is None:
            opening = self._opening[server] = asyncio.ensure_future(self._open(server))
        return await opening

    async def _open(self, server: Server) -> _Endpoint:
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            # Answers to hundreds of queries in flight arrive in bursts; the default buffer
            # (~200 KiB of skb overhead) would drop some and cost a resend each.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            sock.setblocking(False)
            # Connected: the kernel drops datagrams from other sources and reports ICMP errors.
            sock.connect(server)
        except OSError:
            sock.close()
            raise
        _, protocol = await self._loop.create_datagram_endpoint(_Endpoint, sock=sock)
        self._endpoints[server] = protocol
        return protocol

    def submit(self, endpoint: _Endpoint, question: bytes) -> _Query:
        query = _Query(endpoint.new_id(), question, self._loop.create_future())
        endpoint.pending[query.qid] = query
        self._send(endpoint, query)
        return query

    def _send(self, endpoint: _Endpoint, query: _Query) -> None:
        if query.future.done():
            return
        if query.sends_left == 0:
            query.future.set_exception(TimeoutError())
            return
        query.sends_left -= 1
        assert endpoint.transport is not None
        endpoint.transport.sendto(query.wire)
        query.timer = self._loop.call_later(self.timeout / SENDS, self._send, endpoint, query)

    async def answer(self, endpoint: _Endpoint, query: _Query) -> bytes | Exception:
        try:
            return await query.future
        except (OSError, TimeoutError) as exc:
            return exc
        finally:
            if query.timer is not None:
                query.timer.cancel()
            endpoint.pending.pop(query.qid, None)

    def close(self) -> None:
        for endpoint in self._endpoints.values():
            if endpoint.transport is not None:
                endpoint.transport.close()


def question(name: dns.name.Name, rdtype: int) -> bytes:
    return bytes(name.to_wire() or b"") + _TYPE_CLASS.pack(rdtype, 1)


async def _over_tcp(server: Server, name: dns.name.Name, rdtype: int, timeout: float) -> bytes:
    message = dns.message.make_query(
        name, dns.rdatatype.RdataType(rdtype), use_edns=0, payload=1232
    )
    message.flags &= ~dns.flags.RD
    response = await dns.asyncquery.tcp(message, server[0], timeout=timeout, port=server[1])
    return response.to_wire()


@dataclass(slots=True)
class Reply:
    """The parts of an answer the check reads: header bits, NS targets and SOA serials."""

    rcode: int
    authoritative: bool
    # (owner, type, NS target or SOA serial) of the answer and authority sections.
    answer: list[tuple[dns.name.Name, int, dns.name.Name | int]]
    authority: list[tuple[dns.name.Name, int, dns.name.Name | int]]


def _skip_name(data: bytes, offset: int) -> int:
    """The offset just past a wire-format name (a compression pointer ends it)."""
    while True:
        length = data[offset]
        if length == 0:
            return offset + 1
        if length >= 0xC0:
            return offset + 2
        offset += length + 1


def scan(data: bytes) -> Reply:
    """Read an answer with dnspython's wire parser, skipping what the check does not use.

    dns.message.from_wire builds every RRset and de-duplicates rdatas by comparing their wire
    forms: several times the cost, and the glue in the additional section is never looked at.
    """
    _, flags, questions, answers, authorities, _ = _HEADER.unpack_from(data)
    offset = 12
    for _ in range(questions):
        offset = _skip_name(data, offset) + 4
    parser = dns.wire.Parser(data, offset)
    sections: tuple[list[Any], list[Any]] = ([], [])
    for section, count in zip(sections, (answers, authorities), strict=True):
        for _ in range(count):
            owner = parser.get_name(decompress=True)
            rdtype, _, _, length = parser.get_struct("!HHIH")
            end = parser.current + length
            if end > len(data):
                raise dns.exception.FormError("record data runs past the message")
            if rdtype == dns.rdatatype.NS:
                section.append((owner, rdtype, parser.get_name(decompress=True)))
            elif rdtype == dns.rdatatype.SOA:
                serial_at = _skip_name(data, _skip_name(data, parser.current))
                section.append((owner, rdtype, _SERIAL.unpack_from(data, serial_at)[0]))
            parser.seek(end)
    return Reply(flags & 0xF, bool(flags & dns.flags.AA), sections[0], sections[1])


def describe_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | dns.exception.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, dns.exception.DNSException):
        return f"malformed answer: {exc}"
    return f"{type(exc).__name__}: {exc}"


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


def _server_table(table: dict[str, list[str]]) -> dict[str, list[Server]]:
    parsed: dict[str, list[Server]] = {}
    for key, addresses in table.items():
        servers = [parse_server(address) for address in addresses]
        for host, _ in servers:
            ipaddress.ip_address(host)  # a host name here would block the event loop in connect
        parsed[normalise(key)] = servers
    return parsed


class _Discovery:
    """Parent servers and nameserver addresses: from settings, else resolved and cached."""

    def __init__(self, settings: Settings) -> None:
        self._parents = _server_table(settings.dns_parent_servers)
        self._addresses = _server_table(settings.dns_nameserver_addresses)
        self._resolvers = [parse_server(address) for address in settings.dns_resolvers]
        self._timeout = settings.dns_query_timeout
        self._cache: dict[str, tuple[float, list[Server]]] = {}

    def parent_of(self, domain: str) -> tuple[str, list[Server] | None]:
        """The parent zone and, when settings name them, its servers."""
        zone = parent_zone(domain)
        override = _longest_suffix(domain, self._parents)
        if override is None:
            return zone, None
        # A configured suffix deeper than the public suffix is the zone that delegates.
        if len(override) > len(zone):
            zone = override
        return zone, self._parents[override]

    def configured_addresses(self, host: str) -> list[Server] | None:
        return self._addresses.get(normalise(host))

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

    def check(self, name: str, expected: Sequence[str]) -> Diagnosis:
        """Check one domain from synchronous code (not from inside a running event loop)."""
        return asyncio.run(self.check_many([(name, expected)]))[0]

    async def check_many(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[Diagnosis]:
        """One diagnosis per (domain, expected nameservers), in order; never raises for DNS."""
        results: list[Diagnosis | None] = [None] * len(items)
        work = iter(enumerate(items))
        run = _Run(self._timeout)

        async def worker() -> None:
            # A fixed pool pulling from one iterator: no task or semaphore per domain.
            for index, (name, expected) in work:
                results[index] = await self._check_safely(run, name, expected)

        try:
            workers = min(self._concurrency, len(items))
            await asyncio.gather(*(worker() for _ in range(workers)))
        finally:
            run.close()
        return [diagnosis for diagnosis in results if diagnosis is not None]

    async def _check_safely(self, run: _Run, name: str, expected: Sequence[str]) -> Diagnosis:
        try:
            return await self._check(run, name, expected)
        except Exception as exc:  # one odd domain must not sink the batch
            logger.exception("delegation check of %s failed", name)
            domain = normalise(name)
            expected_names = sorted({normalise(ns) for ns in expected})
            reason = f"check failed: {type(exc).__name__}: {exc}"
            return Diagnosis(domain, parent_zone(domain), expected_names, [], [], False, reason)

    async def _check(self, run: _Run, name: str, expected: Sequence[str]) -> Diagnosis:
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
            diagnosis.nameservers = await self._ask_nameservers(run, wanted, qname)
            problem = nameserver_problem(diagnosis)
        diagnosis.delegated = problem is None
        diagnosis.reason = problem or delegated_reason(diagnosis)
        return diagnosis

    async def _ask_parents(
        self, run: _Run, servers: Sequence[Server], qname: dns.name.Name
    ) -> list[ParentAnswer]:
        answers = []
        responses = await self._query_all(run, servers, qname, dns.rdatatype.NS)
        for server, response in zip(servers, responses, strict=True):
            label = server_label(server)
            if isinstance(response, Reply):
                answers.append(read_parent(label, qname, response))
            else:
                answers.append(ParentAnswer(label, error=describe_error(response, self._timeout)))
        return answers

    async def _ask_nameservers(
        self, run: _Run, hosts: Sequence[str], qname: dns.name.Name
    ) -> list[NameserverAnswer]:
        answers: list[NameserverAnswer] = []
        targets: list[tuple[str, Server]] = []
        for host in hosts:
            try:
                addresses = await self._addresses(run, host)
            except LookupError as exc:
                answers.append(NameserverAnswer(host, "", error=f"could not resolve: {exc}"))
                continue
            targets += [(host, server) for server in addresses]
        servers = [server for _, server in targets]
        responses = await self._query_all(run, servers, qname, dns.rdatatype.SOA)
        for (host, server), response in zip(targets, responses, strict=True):
            label = server_label(server)
            if isinstance(response, Reply):
                answers.append(read_soa(host, label, qname, response))
            else:
                error = describe_error(response, self._timeout)
                answers.append(NameserverAnswer(host, label, error=error))
        return answers

    async def _addresses(self, run: _Run, host: str) -> list[Server]:
        configured = self._discovery.configured_addresses(host)
        if configured is not None:
            return configured
        return await run.once(f"host:{host}", lambda: self._discovery.resolve_host(host))

    async def _query_all(
        self, run: _Run, servers: Sequence[Server], qname: dns.name.Name, rdtype: int
    ) -> list[Reply | Exception]:
        """Send to every server at once, then collect; TCP again for truncated answers."""
        wire_question = question(qname, rdtype)
        sent: list[tuple[_Endpoint, _Query] | Exception] = []
        for server in servers:
            try:
                endpoint = await run.endpoint(server)
            except OSError as exc:
                sent.append(exc)
                continue
            sent.append((endpoint, run.submit(endpoint, wire_question)))
        results: list[Reply | Exception] = []
        for server, item in zip(servers, sent, strict=True):
            if isinstance(item, Exception):
                results.append(item)
                continue
            data = await run.answer(*item)
            results.append(await self._finish(server, qname, rdtype, data))
        return results

    async def _finish(
        self, server: Server, qname: dns.name.Name, rdtype: int, data: bytes | Exception
    ) -> Reply | Exception:
        if isinstance(data, bytes) and data[2] & 0x02:  # TC: the answer did not fit in UDP
            try:
                data = await _over_tcp(server, qname, rdtype, self._timeout)
            except (OSError, EOFError, TimeoutError, dns.exception.DNSException) as exc:
                data = exc
        if isinstance(data, Exception):
            return data
        try:
            return scan(data)
        except (dns.exception.DNSException, struct.error, IndexError) as exc:
            return dns.exception.FormError(str(exc) or type(exc).__name__)
