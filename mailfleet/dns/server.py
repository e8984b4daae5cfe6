"""The builtin authoritative DNS server: answers for the zones kept in Mailfleet's database.

A zone is a domain whose `dns_provider` is "builtin", whose zone has been created (`zone_id` set)
and that is not REMOVED. The server is authoritative only: AA on every answer from our zones,
REFUSED for anything else, never RA, never recursion. It speaks UDP and TCP (RFC 7766: a 2-byte
length prefix, several queries per connection) and serves AXFR/IXFR over TCP to the addresses in
`settings.dns_transfer_allowed`.

How zones are read and cached (and when a change becomes visible) is in `zonestore`.

`BuiltinDnsServer.start()` runs the server in its own event loop on a daemon thread, so it can
sit next to the web server in `mailfleet serve`; `serve()` runs it in the caller's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import ipaddress
import logging
import struct
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Final, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns.zonestore import ZoneData, ZoneStore

log = logging.getLogger(__name__)

# Largest UDP answer we send even when a client offers more: the DNS Flag Day 2020 value, which
# avoids IP fragmentation. Bigger answers are truncated and the client retries over TCP.
UDP_PAYLOAD: Final = 1232
TCP_IDLE_SECONDS: Final = 10.0
MAX_TCP_CONNECTIONS: Final = 128
# Zone transfers are split into messages of about this many bytes (the limit is 65535).
TRANSFER_CHUNK: Final = 16_000
DB_THREADS: Final = 4

Q = dns.rdatatype
IN = dns.rdataclass.IN
ADDRESS_TYPES: Final = (Q.A, Q.AAAA)

Reply = list[bytes]


# --- answering one query --------------------------------------------------------------------


def _header_only(wire: bytes, rcode: dns.rcode.Rcode) -> bytes:
    """An error response built from the query header alone, for queries dnspython cannot
    (or need not) parse: same id and opcode, RD echoed, no sections."""
    query_id, flags = struct.unpack("!HH", wire[:4])
    opcode_bits = flags & 0x7800
    flags = dns.flags.QR | opcode_bits | (flags & dns.flags.RD) | int(rcode)
    return struct.pack("!HHHHHH", query_id, flags, 0, 0, 0, 0)


def _matching(node: dict[int, dns.rrset.RRset], qtype: int) -> list[dns.rrset.RRset]:
    if qtype == Q.ANY:
        return list(node.values())
    if qtype in node:
        return [node[qtype]]
    # A CNAME answers for every type at its name; the resolver follows it.
    if Q.CNAME in node:
        return [node[Q.CNAME]]
    return []


def _targets(rrset: dns.rrset.RRset) -> list[dns.name.Name]:
    if rrset.rdtype == Q.MX:
        return [rdata.exchange for rdata in rrset]
    if rrset.rdtype in (Q.NS, Q.SRV):
        return [rdata.target for rdata in rrset]
    return []


def _additional(zone: ZoneData, rrsets: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
    """Addresses of in-zone MX, NS and SRV targets, saving the resolver a round trip."""
    extra: list[dns.rrset.RRset] = []
    for rrset in rrsets:
        for target in _targets(rrset):
            node = zone.nodes.get(target, {})
            extra.extend(node[rdtype] for rdtype in ADDRESS_TYPES if rdtype in node)
    return extra


def _cut_above(zone: ZoneData, qname: dns.name.Name, qtype: int) -> dns.name.Name | None:
    """The delegation point the name lies at or under, if any (DS at the cut is ours)."""
    if not zone.cuts:
        return None
    for depth in range(len(zone.origin) + 1, len(qname) + 1):
        ancestor = qname.split(depth)[1]
        if ancestor in zone.cuts and not (ancestor == qname and qtype == Q.DS):
            return ancestor
    return None


def _wildcard_node(zone: ZoneData, qname: dns.name.Name) -> dict[int, dns.rrset.RRset] | None:
    """RRsets a wildcard synthesizes for a name that does not exist (RFC 4592), owned by it."""
    encloser = qname.parent()
    while not zone.exists(encloser):
        encloser = encloser.parent()
    source = zone.nodes.get(dns.name.Name((b"*", *encloser.labels)))
    if source is None:
        return None
    return {
        rdtype: dns.rrset.from_rdata_list(qname, rrset.ttl, list(rrset))
        for rdtype, rrset in source.items()
    }


def resolve(
    zone: ZoneData, qname: dns.name.Name, qtype: int, response: dns.message.Message
) -> None:
    """Fill the response for a name inside the zone."""
    cut = _cut_above(zone, qname, qtype)
    if cut is not None:
        # Delegated away: a referral, which is not authoritative.
        response.flags &= ~dns.flags.AA
        response.authority.append(zone.nodes[cut][Q.NS])
        response.additional.extend(_additional(zone, response.authority))
        return
    node = zone.nodes.get(qname)
    if node is None and qname not in zone.empty_non_terminals:
        node = _wildcard_node(zone, qname)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(zone.negative_soa)
            return
    rrsets = _matching(node or {}, qtype)
    if not rrsets:
        # NODATA: the name exists (perhaps only as an empty non-terminal), the type does not.
        response.authority.append(zone.negative_soa)
        return
    response.answer.extend(rrsets)
    response.additional.extend(_additional(zone, rrsets))


def transfer_messages(zone: ZoneData, query: dns.message.Message) -> list[dns.message.Message]:
    """AXFR: SOA, every other RRset, SOA again, over as many messages as it takes."""
    rrsets = [zone.soa, *zone.rrsets(), zone.soa]
    messages: list[dns.message.Message] = []
    current = _transfer_message(query, first=True)
    size = 0
    for rrset in rrsets:
        rrset_size = _wire_size(rrset)
        if current.answer and size + rrset_size > TRANSFER_CHUNK:
            messages.append(current)
            current, size = _transfer_message(query, first=False), 0
        current.answer.append(rrset)
        size += rrset_size
    messages.append(current)
    return messages


def _wire_size(rrset: dns.rrset.RRset) -> int:
    # Uncompressed: an upper bound of what the RRset takes in a message.
    buffer = io.BytesIO()
    rrset.to_wire(buffer)
    return buffer.tell()


def _transfer_message(query: dns.message.Message, *, first: bool) -> dns.message.Message:
    message = dns.message.make_response(query)
    message.flags |= dns.flags.AA
    if not first:
        # Only the first message of a transfer repeats the question (RFC 5936 section 2.2).
        message.question = []
    return message


def _client_serial(query: dns.message.Message) -> int | None:
    """The serial an IXFR client already has (the SOA in its authority section)."""
    for rrset in query.authority:
        if rrset.rdtype == Q.SOA and len(rrset):
            return int(rrset[0].serial)
    return None


class Responder:
    """Turns query bytes into response bytes; holds no sockets."""

    def __init__(self, settings: Settings, store: ZoneStore, executor: Executor) -> None:
        self.store = store
        self.executor = executor
        self.transfer_networks = [
            ipaddress.ip_network(entry, strict=False) for entry in settings.dns_transfer_allowed
        ]

    def respond(self, wire: bytes, client: str, *, tcp: bool) -> Reply | Coroutine[Any, Any, Reply]:
        """The reply, or a coroutine producing it when the database must be read first.

        Answering straight from the cache, without a task, keeps the common case cheap.
        """
        query = self._parse(wire)
        if not isinstance(query, dns.message.Message):
            return query
        qname = query.question[0].name
        zone = self.store.cached(qname)
        if isinstance(zone, ZoneData) or zone is None:
            return self._answer(query, zone, client, tcp=tcp)
        return self._answer_later(query, client, tcp=tcp)

    async def _answer_later(self, query: dns.message.Message, client: str, *, tcp: bool) -> Reply:
        try:
            zone = await self.store.lookup(query.question[0].name, self.executor)
        except Exception:
            log.exception("DNS: reading zone for %s failed", query.question[0].name)
            response = dns.message.make_response(query, our_payload=UDP_PAYLOAD)
            response.set_rcode(dns.rcode.SERVFAIL)
            return [self._wire(response, query, tcp=tcp)]
        return self._answer(query, zone, client, tcp=tcp)

    def _parse(self, wire: bytes) -> dns.message.Message | Reply:
        if len(wire) < 12:
            return []  # Not even a header: nothing to reply to.
        flags = struct.unpack("!H", wire[2:4])[0]
        if flags & dns.flags.QR:
            return []  # A response: answering it could start a loop between two servers.
        if dns.opcode.from_flags(flags) != dns.opcode.QUERY:
            return [_header_only(wire, dns.rcode.NOTIMP)]
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return [_header_only(wire, dns.rcode.FORMERR)]
        if len(query.question) != 1 or query.answer:
            return [_header_only(wire, dns.rcode.FORMERR)]
        return query

    def _answer(
        self, query: dns.message.Message, zone: ZoneData | None, client: str, *, tcp: bool
    ) -> Reply:
        question = query.question[0]
        qtype = question.rdtype
        response = dns.message.make_response(query, our_payload=UDP_PAYLOAD)
        if query.edns > 0:
            # We speak EDNS version 0 only (RFC 6891 section 6.1.3).
            response.set_rcode(dns.rcode.BADVERS)
        elif qtype in (Q.AXFR, Q.IXFR):
            return self._transfer(query, response, zone, client, tcp=tcp)
        elif dns.rdatatype.is_metatype(qtype) and qtype != Q.ANY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif zone is None or question.rdclass != IN:
            response.set_rcode(dns.rcode.REFUSED)
        else:
            response.flags |= dns.flags.AA
            resolve(zone, question.name, qtype, response)
        return [self._wire(response, query, tcp=tcp)]

    def _transfer(
        self,
        query: dns.message.Message,
        response: dns.message.Message,
        zone: ZoneData | None,
        client: str,
        *,
        tcp: bool,
    ) -> Reply:
        if zone is None or not self.may_transfer(client):
            response.set_rcode(dns.rcode.REFUSED)
        elif zone.origin != query.question[0].name:
            response.set_rcode(dns.rcode.NOTAUTH)
        elif not tcp:
            # Transfers are TCP only; TC tells the client to come back over TCP.
            response.flags |= dns.flags.TC
        else:
            serial = _client_serial(query)
            if (
                query.question[0].rdtype == Q.IXFR
                and serial is not None
                and serial >= zone.soa[0].serial
            ):
                # Up to date: an IXFR answered with just the current SOA (RFC 1995 section 4).
                response.flags |= dns.flags.AA
                response.answer.append(zone.soa)
                return [self._wire(response, query, tcp=True)]
            # No history is kept, so an IXFR gets the whole zone, AXFR-style (RFC 1995 4).
            messages = transfer_messages(zone, query)
            return [message.to_wire(max_size=65535) for message in messages]
        return [self._wire(response, query, tcp=tcp)]

    def may_transfer(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self.transfer_networks)

    @staticmethod
    def _wire(response: dns.message.Message, query: dns.message.Message, *, tcp: bool) -> bytes:
        if tcp:
            limit = 65535
        elif query.edns < 0:
            limit = 512
        else:
            limit = min(max(query.payload, 512), UDP_PAYLOAD)
        # Whole RRsets that fit are kept; TC is set if part of the answer or authority is cut.
        return response.to_wire(max_size=limit, prefer_truncation=True)


# --- transports ------------------------------------------------------------------------------


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None
        # Running tasks are referenced so the loop cannot drop them half-way.
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            reply = self.responder.respond(data, str(addr[0]), tcp=False)
        except Exception:
            log.exception("DNS: failed to answer a UDP query from %s", addr[0])
            return
        if isinstance(reply, list):
            self._send(reply, addr)
            return
        task = asyncio.get_running_loop().create_task(self._finish(reply, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _finish(
        self, pending: Coroutine[Any, Any, Reply], addr: tuple[str | Any, int]
    ) -> None:
        try:
            self._send(await pending, addr)
        except Exception:
            log.exception("DNS: failed to answer a UDP query from %s", addr[0])

    def _send(self, reply: Reply, addr: tuple[str | Any, int]) -> None:
        if self.transport is not None:
            for message in reply:
                self.transport.sendto(message, addr)


class _TcpHandler:
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else ""
        self.connections += 1
        try:
            if self.connections <= MAX_TCP_CONNECTIONS:
                await self._serve(reader, writer, client)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # The client left, or sat idle too long: both end the connection.
        except Exception:
            log.exception("DNS: TCP connection from %s failed", client)
        finally:
            self.connections -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: str
    ) -> None:
        while True:
            async with asyncio.timeout(TCP_IDLE_SECONDS):
                size = int.from_bytes(await reader.readexactly(2), "big")
                wire = await reader.readexactly(size)
            reply = self.responder.respond(wire, client, tcp=True)
            if not isinstance(reply, list):
                reply = await reply
            if not reply:
                return  # Nothing sensible to say: a response or a runt; hang up.
            for message in reply:
                writer.write(len(message).to_bytes(2, "big") + message)
            await writer.drain()


# --- the server --------------------------------------------------------------------------------


class BuiltinDnsServer:
    """The authoritative server over Mailfleet's database.

    `cache_seconds` bounds how long a zone's serial is trusted before it is checked again, that
    is how stale an answer can be after a change (see `zonestore`).
    """

    def __init__(self, settings: Settings, database: Database, *, cache_seconds: float = 1.0):
        self.settings = settings
        self.database = database
        self.host = settings.dns_server_host
        self.port = settings.dns_server_port
        self.store = ZoneStore(settings, database, cache_seconds=cache_seconds)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._start_error: BaseException | None = None

    # In a thread of its own -------------------------------------------------------------------

    def start(self) -> None:
        """Bind UDP and TCP and answer from a daemon thread; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("the DNS server is already running")
        ready = threading.Event()
        self._start_error = None
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="mailfleet-dns", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            raise self._start_error

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self.serve(on_ready=ready.set))
        except BaseException as exc:
            if ready.is_set():
                log.exception("DNS: the server stopped on an error")
            else:
                self._start_error = exc  # start() raises it in the caller's thread.
        finally:
            ready.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the sockets and end the thread (or a `serve()` running elsewhere)."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # The loop closed already.
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # In the caller's event loop -------------------------------------------------------------

    async def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Answer queries until `stop()` is called or the task is cancelled."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        executor = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="mailfleet-dns-db")
        responder = Responder(self.settings, self.store, executor)
        udp, tcp = await self._bind(responder)
        try:
            log.info("DNS: authoritative server on %s port %d (UDP, TCP)", self.host, self.port)
            if on_ready is not None:
                on_ready()
            await self._stopping.wait()
        finally:
            udp.close()
            tcp.close()
            await tcp.wait_closed()
            executor.shutdown(wait=False, cancel_futures=True)
            self._loop = self._stopping = None

    async def _bind(self, responder: Responder) -> tuple[asyncio.DatagramTransport, asyncio.Server]:
        loop = asyncio.get_running_loop()
        # Port 0: UDP picks a free port, TCP takes the same one; retry if TCP finds it taken.
        attempts = 10 if self.settings.dns_server_port == 0 else 1
        for attempt in range(attempts):
            try:
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(responder),
                    local_addr=(self.host, self.settings.dns_server_port),
                )
            except OSError as error:
                raise bind_error(self.host, self.settings.dns_server_port, "UDP", error) from error
            port = int(udp.get_extra_info("sockname")[1])
            try:
                tcp = await asyncio.start_server(
                    _TcpHandler(responder), self.host, port, reuse_address=True
                )
            except OSError as error:
                udp.close()
                if attempt == attempts - 1:
                    raise bind_error(self.host, port, "TCP", error) from error
                continue
            self.port = port
            return udp, tcp
        raise RuntimeError("unreachable")


class DnsBindError(OSError):
    """The DNS server cannot listen where the settings say; the message is one line naming the
    address and the settings that change it (what `mailfleet serve` prints)."""

    def __str__(self) -> str:
        return str(self.strerror)  # without OSError's "[Errno 98]" prefix: the line says it


def bind_error(host: str, port: int, protocol: str, error: OSError) -> DnsBindError:
    if error.errno == errno.EADDRINUSE:
        reason = "is in use"
    elif error.errno == errno.EACCES and 0 < port < 1024:
        reason = "needs root or CAP_NET_BIND_SERVICE"
    else:
        reason = f"cannot be used ({error.strerror or error})"
    return DnsBindError(
        error.errno or 0,
        f"DNS server: {protocol} port {port} on {host} {reason}; set MAILFLEET_DNS_SERVER_PORT "
        "(or MAILFLEET_DNS_SERVER_HOST) to another, or MAILFLEET_DNS_SERVER_ENABLED=false to "
        "run none",
    )
