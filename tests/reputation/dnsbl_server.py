"""A DNSBL on loopback: answers A and TXT for the names it lists, NXDOMAIN for the rest.

It plays the resolver the checks are pointed at (`dnsbl_resolvers`), serving every test zone at
once. `listed` can change between two checks (a delisting); `received` records each query with
the time of `clock` when it arrived, so a test can count queries per second of a fake clock.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset


@dataclass
class Entry:
    addresses: list[str]
    reason: str | None = None


@dataclass
class DnsblServer:
    address: str = ""
    listed: dict[str, Entry] = field(default_factory=dict)
    received: list[tuple[str, str, float]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    # While `hold` is set, a query is answered only once `release` is: `entered` says one came.
    hold: bool = False
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def list(self, name: str, code: str, reason: str | None = None) -> None:
        self.listed[name.lower().rstrip(".")] = Entry([code], reason)

    def delist(self, name: str) -> None:
        self.listed.pop(name.lower().rstrip("."), None)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def answer(self, data: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        with self._lock:
            self.received.append((name, dns.rdatatype.to_text(question.rdtype), self.clock()))
        if self.hold:
            self.entered.set()
            self.release.wait(30)
        response = dns.message.make_response(query)
        response.flags |= 0x80  # RA: a resolver
        entry = self.listed.get(name)
        if entry is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            response.answer.append(
                dns.rrset.from_text_list(name + ".", 300, "IN", "A", entry.addresses)
            )
        elif question.rdtype == dns.rdatatype.TXT and entry.reason:
            response.answer.append(
                dns.rrset.from_text_list(name + ".", 300, "IN", "TXT", [f'"{entry.reason}"'])
            )
        return response.to_wire()


@contextmanager
def dnsbl_server() -> Iterator[DnsblServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    # A short timeout lets the thread see the stop flag (closing a socket wakes no recvfrom).
    sock.settimeout(0.2)
    server = DnsblServer(address=f"127.0.0.1:{sock.getsockname()[1]}")
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, client = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = server.answer(data)
            if reply is not None:
                try:
                    sock.sendto(reply, client)
                except OSError:
                    continue

    thread = threading.Thread(target=serve, name="dnsbl", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()
