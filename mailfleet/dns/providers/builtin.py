"""The builtin DNS provider: zones served by Mailfleet's own authoritative server.

Every other provider mirrors the database somewhere else. Here the database *is* the zone:
`mailfleet.dns.server.BuiltinDnsServer` answers straight from the `dns_records` rows and the
domain's `dns_serial`. So there is nothing to create, push or delete; each call only returns what
the protocol expects, and a zone "exists" once the caller stores the returned zone id.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailfleet.config import Settings
from mailfleet.dns.providers.base import Zone
from mailfleet.dns.records import RRset


class BuiltinDnsProvider:
    name = "builtin"

    def __init__(self, settings: Settings | None = None) -> None:
        # Nothing to configure; it takes the settings only as every registered factory does.
        del settings

    def ensure_zone(self, zone: str, nameservers: Sequence[str], *, serial: int) -> Zone:
        # The zone's name is its id: unique among live domains, and readable in logs.
        return Zone(zone_id=zone.rstrip(".").lower(), nameservers=tuple(nameservers))

    def replace_rrsets(
        self,
        zone: Zone,
        zone_name: str,
        rrsets: Sequence[RRset],
        *,
        delete: Sequence[tuple[str, str]] = (),
    ) -> dict[tuple[str, str, str], str]:
        # The records are already in the database, which the server reads; no provider ids.
        return {}

    def delete_zone(self, zone: Zone, zone_name: str) -> None:
        # The server stops answering once the domain is REMOVED or loses its zone id.
        return None
