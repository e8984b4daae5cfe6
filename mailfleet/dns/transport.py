"""Non-recursive DNS queries to many servers at once, and a lean reader for their answers.

Thousands of domains are checked at once: queries to one server share one connected UDP socket
and are matched to answers by message id (and question), with our own timeout and one resend,
so a query costs a few datagrams and no socket or task of its own. A truncated answer is asked
again over TCP. dnspython's wire parser reads the answers, skipping what the checks never use.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.wire

from mailfleet.dns.addresses import Server

# Sends per query: the first and one resend halfway through the timeout (UDP may drop).
SENDS = 2
# EDNS0 OPT record advertising 1232 bytes (the DNS flag day 2020 size): referrals with many NS
# and glue records fit without falling back to TCP.
_OPT = b"\x00" + struct.pack("!HHIH", dns.rdatatype.OPT, 1232, 0, 0)
_HEADER = struct.Struct("!HHHHHH")
_TYPE_CLASS = struct.Struct("!HH")
_SERIAL = struct.Struct("!I")
_RCVBUF = 1 << 20


@dataclass(slots=True)
class Reply:
    """The parts of an answer the check reads: header bits, NS targets and SOA serials."""

    rcode: int
    authoritative: bool
    # (owner, type, NS target or SOA serial) of the answer and authority sections.
    answer: list[tuple[dns.name.Name, int, dns.name.Name | int]]
    authority: list[tuple[dns.name.Name, int, dns.name.Name | int]]


# --- UDP: one connected socket per server, answers matched by id ---


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


class Run:
    """One batch of checks: its sockets (they belong to its event loop), look-ups in flight."""

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

    async def query_all(
        self, servers: Sequence[Server], qname: dns.name.Name, rdtype: int
    ) -> list[Reply | Exception]:
        """Send to every server at once, then collect; TCP again for truncated answers."""
        wire_question = question(qname, rdtype)
        sent: list[tuple[_Endpoint, _Query] | Exception] = []
        for server in servers:
            try:
                endpoint = await self._endpoint(server)
            except OSError as exc:
                sent.append(exc)
                continue
            sent.append((endpoint, self._submit(endpoint, wire_question)))
        results: list[Reply | Exception] = []
        for server, item in zip(servers, sent, strict=True):
            if isinstance(item, Exception):
                results.append(item)
                continue
            data = await self._answer(*item)
            results.append(await self._finish(server, qname, rdtype, data))
        return results

    def close(self) -> None:
        for endpoint in self._endpoints.values():
            if endpoint.transport is not None:
                endpoint.transport.close()

    async def _endpoint(self, server: Server) -> _Endpoint:
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

    def _submit(self, endpoint: _Endpoint, question: bytes) -> _Query:
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

    async def _answer(self, endpoint: _Endpoint, query: _Query) -> bytes | Exception:
        try:
            return await query.future
        except (OSError, TimeoutError) as exc:
            return exc
        finally:
            if query.timer is not None:
                query.timer.cancel()
            endpoint.pending.pop(query.qid, None)

    async def _finish(
        self, server: Server, qname: dns.name.Name, rdtype: int, data: bytes | Exception
    ) -> Reply | Exception:
        if isinstance(data, bytes) and data[2] & 0x02:  # TC: the answer did not fit in UDP
            try:
                data = await _over_tcp(server, qname, rdtype, self.timeout)
            except (OSError, EOFError, TimeoutError, dns.exception.DNSException) as exc:
                data = exc
        if isinstance(data, Exception):
            return data
        try:
            return scan(data)
        except (dns.exception.DNSException, struct.error, IndexError) as exc:
            return dns.exception.FormError(str(exc) or type(exc).__name__)


# --- the wire ---


def question(name: dns.name.Name, rdtype: int) -> bytes:
    return bytes(name.to_wire() or b"") + _TYPE_CLASS.pack(rdtype, 1)


async def _over_tcp(server: Server, name: dns.name.Name, rdtype: int, timeout: float) -> bytes:
    message = dns.message.make_query(
        name, dns.rdatatype.RdataType(rdtype), use_edns=0, payload=1232
    )
    message.flags &= ~dns.flags.RD
    response = await dns.asyncquery.tcp(message, server[0], timeout=timeout, port=server[1])
    return response.to_wire()


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
