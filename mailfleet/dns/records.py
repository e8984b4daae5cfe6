"""Provider-neutral DNS records: how a stored record becomes wire data and back.

A stored record (models.DnsRecord) keeps `content` the way a person writes it. Providers that
speak presentation format (PowerDNS, zone files, the builtin server) get `rdata_text`; those that
take structured values (Cloudflare) use the stored fields directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

SUPPORTED_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA")
# Types whose content is a host name and is written absolute on the wire.
HOST_TYPES = frozenset({"CNAME", "MX", "NS"})
TXT_CHUNK = 255


@dataclass(frozen=True)
class Record:
    """One record as providers see it. `name` is absolute, ASCII, without the trailing dot."""

    name: str
    type: str
    content: str
    ttl: int = 3600
    priority: int | None = None


@dataclass
class RRset:
    """Every record of one name and type: the unit PowerDNS replaces and zone files group."""

    name: str
    type: str
    ttl: int
    records: list[Record] = field(default_factory=list)

    @property
    def rdata(self) -> list[str]:
        return [rdata_text(record) for record in self.records]


def absolute(name: str) -> str:
    return name.rstrip(".") + "."


def txt_strings(text: str) -> list[str]:
    """Split a TXT value into character-strings of at most 255 bytes each (RFC 1035).

    Splits fall between characters, so each piece stays valid UTF-8 on the wire.
    """
    if text.isascii():  # the common case: one byte per character
        return [text[i : i + TXT_CHUNK] for i in range(0, len(text), TXT_CHUNK)] or [""]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        width = len(char.encode())
        if size + width > TXT_CHUNK:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    pieces.append("".join(current))
    return pieces


def quote_txt(text: str) -> str:
    """A TXT value in presentation format: quoted strings, bytes outside ASCII as \\DDD."""
    parts = []
    for chunk in txt_strings(text):
        escaped = []
        for byte in chunk.encode():
            if byte in (0x22, 0x5C):  # " and \
                escaped.append("\\" + chr(byte))
            elif 0x20 <= byte < 0x7F:
                escaped.append(chr(byte))
            else:
                escaped.append(f"\\{byte:03d}")
        parts.append('"' + "".join(escaped) + '"')
    return " ".join(parts)


def rdata_text(record: Record) -> str:
    """The record's data in presentation format, names absolute (PowerDNS `content`)."""
    if record.type == "TXT":
        return quote_txt(record.content)
    if record.type == "MX":
        return (
            f"{record.priority if record.priority is not None else 10} {absolute(record.content)}"
        )
    if record.type in HOST_TYPES:
        return absolute(record.content)
    if record.type == "SRV":
        # content: "weight port target"
        weight, port, target = record.content.split()
        return f"{record.priority or 0} {weight} {port} {absolute(target)}"
    return record.content


def group_rrsets(records: Iterable[Record]) -> list[RRset]:
    """Records grouped by (name, type), in a stable order; an RRset keeps its lowest TTL."""
    groups: dict[tuple[str, str], RRset] = {}
    for record in records:
        key = (record.name, record.type)
        rrset = groups.get(key)
        if rrset is None:
            rrset = groups[key] = RRset(record.name, record.type, record.ttl)
        rrset.ttl = min(rrset.ttl, record.ttl)
        rrset.records.append(record)
    return [groups[key] for key in sorted(groups)]


def rrset_keys(records: Iterable[Record]) -> set[tuple[str, str]]:
    return {(record.name, record.type) for record in records}


def by_name(records: Iterable[Record]) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        grouped[record.name].append(record)
    return grouped
