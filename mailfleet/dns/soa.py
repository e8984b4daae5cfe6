"""The SOA of every zone Mailfleet writes: one set of timers and one RNAME rule.

The builtin server's answers, the zone file export and the zones created at PowerDNS all take
their SOA from here, so what a user downloads is what the servers serve. (Cloudflare writes its
own SOA.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Refresh and retry: how often secondaries poll and retry (RFC 1912 2.2 ranges). Expire: two
# weeks, so a secondary keeps answering through a long outage of the primary. Minimum, the
# negative-caching TTL (RFC 2308): short, because records are mostly added right after a name
# was first looked up (setup, verification) and a cached NXDOMAIN would hide them.
REFRESH: Final = 10800
RETRY: Final = 3600
EXPIRE: Final = 1209600
MINIMUM: Final = 300
SERIAL_MODULO: Final = 2**32


def absolute(name: str) -> str:
    return name.rstrip(".") + "."


def hostmaster_name(hostmaster: str) -> str:
    """The SOA RNAME, absolute: `hostmaster@example.com` or `hostmaster.example.com`.

    A dot in the mailbox part of an address is escaped so it is not read as a label separator
    (`first.last@example.com` -> `first\\.last.example.com.`).
    """
    if "@" in hostmaster:
        local, _, domain = hostmaster.partition("@")
        return absolute(local.replace(".", "\\.") + "." + domain.rstrip("."))
    return absolute(hostmaster)


@dataclass(frozen=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int = REFRESH
    retry: int = RETRY
    expire: int = EXPIRE
    minimum: int = MINIMUM

    def rdata(self) -> str:
        """Presentation format, names absolute: the same text for every reader."""
        return (
            f"{absolute(self.mname)} {absolute(self.rname)} {self.serial % SERIAL_MODULO} "
            f"{self.refresh} {self.retry} {self.expire} {self.minimum}"
        )


def zone_soa(mname: str, hostmaster: str, serial: int) -> Soa:
    """The SOA of a zone whose primary is `mname`; `hostmaster` as in settings."""
    return Soa(mname=mname, rname=hostmaster_name(hostmaster), serial=serial)
