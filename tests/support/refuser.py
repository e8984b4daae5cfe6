"""A resolver on loopback that refuses every query: where the test suite and the benchmarks
point `dns_resolvers`, so nothing that resolves a name ever asks a server off this machine.

REFUSED (not silence) so a look-up fails at once instead of after a timeout. One per process,
started on first use, on a daemon thread.
"""

from __future__ import annotations

import socket
import struct
import threading

_lock = threading.Lock()
_address: str | None = None


def loopback_resolver() -> str:
    """ "127.0.0.1:PORT" of this process's refusing resolver."""
    global _address
    with _lock:
        if _address is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            threading.Thread(target=_serve, args=(sock,), name="refuser", daemon=True).start()
            _address = f"127.0.0.1:{sock.getsockname()[1]}"
        return _address


def _serve(sock: socket.socket) -> None:
    while True:
        try:
            data, client = sock.recvfrom(4096)
        except OSError:
            return
        if len(data) < 12 or data[2] & 0x80:
            continue  # not a query
        query_id, flags, questions = struct.unpack("!HHH", data[:6])
        # QR, the query's opcode and RD echoed, RCODE 5 (REFUSED); the question echoed back.
        reply_flags = 0x8000 | (flags & 0x7900) | 5
        end = _question_end(data) if questions == 1 else None
        question = data[12:end] if end else b""
        header = struct.pack("!HHHHHH", query_id, reply_flags, 1 if question else 0, 0, 0, 0)
        try:
            sock.sendto(header + question, client)
        except OSError:
            continue


def _question_end(data: bytes) -> int | None:
    offset = 12
    while offset < len(data):
        length = data[offset]
        if length == 0:
            end = offset + 5
            return end if end <= len(data) else None
        if length >= 0xC0:
            return None
        offset += length + 1
    return None
