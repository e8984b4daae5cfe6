"""Where a webhook may be delivered: public addresses only, unless the operator allows others.

A webhook URL is a request Mailfleet makes on a customer's behalf, from inside the operator's
network: pointed at loopback, a private range or a cloud metadata service, it would read or
poke what only this host can reach (server-side request forgery). So every address is checked
twice: a literal one (and `localhost`) when the URL is set, and whatever the host name resolves
to right before each attempt, because DNS can answer differently later than it did at creation
(rebinding). The attempt then connects to the very address that was checked; see
`webhooks.tasks`. `MAILFLEET_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true` lifts the rule, for a
receiver on the operator's own network (and for the test suite's loopback receivers).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services (AWS, GCP, Azure, OpenStack on IPv4; AWS Nitro on IPv6). Both are in
# ranges refused anyway; named so that the reason says what they are.
METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# Names that are loopback by definition (RFC 6761), whatever a resolver says.
LOOPBACK_NAMES = ("localhost", "localhost.")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class AddressRefused(Exception):
    """The host is, or resolves to, an address webhooks may not be sent to."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why `address` is no place for a webhook, or None for a public unicast address."""
    if address in METADATA:
        return "a cloud metadata address"
    ipv6 = isinstance(address, ipaddress.IPv6Address)
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            reason = refusal(inner)
            return None if reason is None else f"{reason} (as {inner})"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if ipv6 and address in UNIQUE_LOCAL:
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "not a public address"
    return None


def literal(host: str) -> IPAddress | None:
    """The address a URL's host names literally (brackets of IPv6 removed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_host(host: str) -> None:
    """The check when a URL is set: a literal address, or a name that is loopback by definition.

    Other names are not resolved here (that would send a DNS query for every typo); they are
    checked when delivered to."""
    lowered = host.lower()
    if lowered in LOOPBACK_NAMES or lowered.rstrip(".").endswith(".localhost"):
        raise AddressRefused(f"{host} is a loopback name; webhooks go to public addresses only.")
    address = literal(host)
    if address is not None:
        reason = refusal(address)
        if reason is not None:
            raise AddressRefused(f"{address} is {reason}; webhooks go to public addresses only.")


@dataclass(frozen=True)
class Target:
    """The checked address an attempt connects to."""

    address: IPAddress
    host: str


def resolve(host: str, port: int, *, allow_private: bool) -> Target:
    """Resolve `host` and check every address it has; the first one is the one to connect to.

    All of them must pass: a name with one public and one private address would otherwise be
    delivered to whichever the HTTP client happened to pick.
    """
    address = literal(host)
    if address is not None:
        addresses = [address]
    else:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise AddressRefused(f"{host} does not resolve: {exc}.") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
        if not addresses:
            raise AddressRefused(f"{host} has no address.")
    if not allow_private:
        for candidate in addresses:
            reason = refusal(candidate)
            if reason is not None:
                where = host if candidate == address else f"{host} resolves to {candidate}, which"
                raise AddressRefused(
                    f"Not sent: {where} is {reason}; webhooks go to public addresses only."
                )
    return Target(addresses[0], host)
