"""The seam between Mailfleet's zones and whoever serves them.

The database holds every record (models.DnsRecord); a provider mirrors it. Calls are idempotent:
creating a zone that exists returns it, replacing an RRset with the same data changes nothing.
They run outside database transactions (they are network calls) and raise `DnsProviderError`,
which says whether retrying can help.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mailfleet.dns.records import RRset


class DnsProviderError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Zone:
    zone_id: str
    # The nameservers the registrar must delegate to. Usually the pair Mailfleet asked for;
    # Cloudflare assigns its own.
    nameservers: tuple[str, ...]


class DnsProvider(Protocol):
    name: str

    def ensure_zone(self, zone: str, nameservers: Sequence[str], *, serial: int) -> Zone:
        """Create the zone with SOA and NS, or return it if it already exists."""

    def replace_rrsets(
        self,
        zone: Zone,
        zone_name: str,
        rrsets: Sequence[RRset],
        *,
        delete: Sequence[tuple[str, str]] = (),
    ) -> dict[tuple[str, str, str], str]:
        """Make each given RRset exactly these records and delete the (name, type) sets listed.

        Returns provider record ids keyed by (name, type, content) where the provider has them.
        """

    def delete_zone(self, zone: Zone, zone_name: str) -> None:
        """Remove the zone; a zone already gone is not an error."""
