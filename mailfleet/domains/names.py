"""Domain name normalisation: trimmed, lower-cased, IDNA (punycode), registrable.

A customer hands us registrable domains (one label under a public suffix): those are what a
registrar delegates. Sub-domains and bare public suffixes are refused with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import idna
from publicsuffixlist import PublicSuffixList

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_psl = PublicSuffixList()


@dataclass(frozen=True)
class NameError_:
    code: str
    detail: str


@dataclass(frozen=True)
class DomainName:
    ascii: str
    unicode: str


def normalise(raw: object) -> DomainName | NameError_:
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
    registrable = _psl.privatesuffix(ascii_name)
    if registrable is None:
        return NameError_("public_suffix", f"{ascii_name} is a public suffix, not a domain.")
    if registrable != ascii_name:
        return NameError_(
            "not_registrable",
            f"{ascii_name} is a sub-domain; submit the registered domain {registrable}.",
        )
    return DomainName(ascii=ascii_name, unicode=unicode_name)


def public_suffix(name: str) -> str | None:
    """The public suffix `name` ends in (acme.co.uk -> co.uk); None for a malformed name.

    An unlisted top level counts as a suffix (acme.test -> test). `name` is taken as given:
    lower-case ASCII without the trailing dot, as `normalise` makes it.
    """
    suffix = _psl.publicsuffix(name)
    return None if suffix is None else str(suffix)


def nameserver_pair(name: str, pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """A stable pair per name, spread over the configured pairs."""
    return pairs[_stable_hash(name) % len(pairs)]


def _stable_hash(name: str) -> int:
    # FNV-1a: Python's hash() is salted per process, so it cannot pick a stable pair.
    value = 0xCBF29CE484222325
    for byte in name.encode():
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value
