"""Name syntax: domain names (trimmed, lower-cased, IDNA, registrable) and local parts.

A customer hands us registrable domains (one label under a public suffix): those are what a
registrar delegates. Sub-domains, bare public suffixes and names under a top-level label the
public suffix list does not know (`acme.notarealtld`: no registry delegates it) are refused with
a reason. The list's own lookups treat an unknown top level as a suffix, so the last check asks
it explicitly; `local_tlds` (settings.local_tlds) names the unknown ones accepted anyway.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import idna

from mailfleet.dns.suffixes import known_tld, psl
from mailfleet.exceptions import Unprocessable

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
USERNAME_MAX = 64
# Letters and digits, with single `.`, `_` or `-` between them (rule 3). ASCII only.
_USERNAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", re.ASCII)


@dataclass(frozen=True)
class NameError_:
    code: str
    detail: str


@dataclass(frozen=True)
class DomainName:
    ascii: str
    unicode: str


def normalise(raw: object, *, local_tlds: Collection[str]) -> DomainName | NameError_:
    """`raw` as stored and looked up, or why it is no domain a customer can hand us.

    `local_tlds` is settings.local_tlds: pass it wherever names are submitted or looked up, so
    that a name accepted once is found again.
    """
    if not isinstance(raw, str):
        return NameError_("invalid_type", "A domain name must be a string.")
    name = raw.strip().lower().rstrip(".")
    if not name:
        return NameError_("empty", "The domain name is empty.")
    if len(name) > 253:
        return NameError_("too_long", "A domain name has at most 253 characters.")
    try:
        ascii_name = name if name.isascii() else idna.encode(name, uts46=True).decode()
    except idna.IDNAError as exc:
        return NameError_("invalid_idna", f"Not a valid internationalised name: {exc}.")
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return NameError_(
            "invalid_syntax",
            "A domain name is dot-separated labels of letters, digits and inner hyphens.",
        )
    try:
        unicode_name = idna.decode(ascii_name) if "xn--" in ascii_name else ascii_name
    except idna.IDNAError as exc:
        return NameError_("invalid_idna", f"Not a valid punycode name: {exc}.")
    if labels[-1].isdigit():
        return NameError_("invalid_syntax", "The top-level label cannot be numeric.")
    if not known_tld(labels[-1], local_tlds):
        return NameError_(
            "unknown_tld",
            f"{ascii_name} ends in .{labels[-1]}, which is not a top-level domain of the public "
            "suffix list: no registry delegates it.",
        )
    registrable = psl.privatesuffix(ascii_name)
    if registrable is None:
        return NameError_("public_suffix", f"{ascii_name} is a public suffix, not a domain.")
    if registrable != ascii_name:
        return NameError_(
            "not_registrable",
            f"{ascii_name} is a sub-domain; submit the registered domain {registrable}.",
        )
    return DomainName(ascii=ascii_name, unicode=unicode_name)


def normalise_username(raw: str, field: str) -> str:
    """The local part of an address on a domain (rule 3): a mailbox's username, or the name of
    a domain's email forward. Refused with 422 `invalid_username` naming `field`."""
    username = raw.strip().lower()
    if not username or len(username) > USERNAME_MAX or not _USERNAME.fullmatch(username):
        raise Unprocessable(
            "A username is 1-64 letters and digits, with single '.', '_' or '-' between them "
            "(not first, not last, never two in a row).",
            code="invalid_username",
            field=field,
        )
    return username


def nameserver_pair(name: str, pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """A stable pair per name, spread over the configured pairs."""
    return pairs[_stable_hash(name) % len(pairs)]


def _stable_hash(name: str) -> int:
    # FNV-1a: Python's hash() is salted per process, so it cannot pick a stable pair.
    value = 0xCBF29CE484222325
    for byte in name.encode():
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value
