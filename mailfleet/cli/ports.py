"""Ports `mailfleet serve` listens on, taken (or tried) before anything starts.

A taken port must stop the start with one line naming it and the setting that moves it. Left to
uvicorn's lifespan, the DNS server's bind error would come out as a traceback, and uvicorn's own
bind error as several lines after the database was already made.
"""

from __future__ import annotations

import errno
import socket


class PortError(Exception):
    """A port we cannot listen on; the message is the one line to print."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _reason(port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return "is in use"
    if error.errno == errno.EACCES and 0 < port < 1024:
        return "needs root or CAP_NET_BIND_SERVICE"
    return f"cannot be used ({error.strerror or error})"


def api_socket(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound as uvicorn binds it; serving on it leaves no window for
    another process to take the port in between."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PortError(
            f"API: port {port} on {host} {_reason(port, error)}; choose another with --port or "
            "MAILFLEET_PORT (--host or MAILFLEET_HOST for the address)"
        ) from error
    sock.set_inheritable(True)
    return sock


def check_dns_ports(host: str, port: int) -> None:
    """Fail now if the builtin DNS server could not bind UDP and TCP `port` (it binds them
    itself a moment later, in the app's lifespan)."""
    from mailfleet.dns.server import bind_error

    if port == 0:
        return  # any free port: nothing can be taken
    for kind, protocol in ((socket.SOCK_DGRAM, "UDP"), (socket.SOCK_STREAM, "TCP")):
        with socket.socket(_family(host), kind) as probe:
            if kind == socket.SOCK_STREAM:
                # As asyncio.start_server(reuse_address=True) binds: a closed socket's
                # TIME_WAIT does not count as taken.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                raise PortError(str(bind_error(host, port, protocol, error))) from error
