"""Where a domain's assigned nameservers answer: one rule for the delegation and health checks.

An assigned nameserver host name maps to the addresses `settings.dns_nameserver_addresses`
gives it. Unmapped, a zone of the builtin provider (the embedded default) is served by
Mailfleet's own server at `dns_server_host:dns_server_port`, whatever the pair is called; any
other host name has to be resolved, which each caller does its own way (the delegation checker
asynchronously, the health check synchronously).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from mailfleet.config import Settings

Server = tuple[str, int]

BUILTIN = "builtin"


def normalise(name: str) -> str:
    return name.strip().lower().rstrip(".")


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


def server_table(table: Mapping[str, Sequence[str]]) -> dict[str, list[Server]]:
    """A settings map of name -> "ip[:port]" strings, parsed; host names are refused."""
    parsed: dict[str, list[Server]] = {}
    for key, addresses in table.items():
        servers = [parse_server(address) for address in addresses]
        for host, _ in servers:
            ipaddress.ip_address(host)  # a host name here would block the event loop in connect
        parsed[normalise(key)] = servers
    return parsed


def builtin_server(settings: Settings) -> Server:
    """Where Mailfleet's own DNS server answers; a wildcard bind address means loopback."""
    host = settings.dns_server_host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, settings.dns_server_port


class NameserverAddresses:
    """The addresses settings fix for assigned nameservers; build once, look up per domain."""

    def __init__(self, settings: Settings) -> None:
        self._table = server_table(settings.dns_nameserver_addresses)
        # Not checked as an IP literal: it is the builtin server's own bind address.
        self._builtin: Server = builtin_server(settings)

    def configured(self, provider: str | None, host: str) -> list[Server] | None:
        """The host's addresses, or None when its name has to be resolved."""
        mapped = self._table.get(normalise(host))
        if mapped:
            return mapped
        if provider == BUILTIN:
            # The embedded default: our own server answers for both names of the pair.
            return [self._builtin]
        return None
