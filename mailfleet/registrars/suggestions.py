"""Look-alike names for a brand or a seed domain (pure functions): what cold-email senders buy
beside their main domain. The seed's label in other TLDs first, then prefixed and suffixed
forms in the seed's TLD, as the peers propose them (get-, try-, -hq, -mail...)."""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_TLD = "com"
DEFAULT_TLDS = ("com", "io", "co", "net")
PREFIXES = ("get", "try", "use", "go", "join", "hello", "meet", "with")
SUFFIXES = ("hq", "mail", "app", "team", "labs", "now", "group", "inc")


def split(seed: str) -> tuple[str, str]:
    """(label, tld) of a seed: `acme` is `acme.com`; `mail.acme.io` keeps its first label."""
    label, dot, tld = seed.strip().strip(".").lower().partition(".")
    return label, tld if dot and tld else DEFAULT_TLD


def similar(label: str, tld: str, prefixes: Sequence[str], suffixes: Sequence[str]) -> list[str]:
    return [f"{p}{label}.{tld}" for p in prefixes] + [f"{label}{s}.{tld}" for s in suffixes]


def candidates(seed: str, tlds: Sequence[str] = DEFAULT_TLDS, *, at_most: int = 20) -> list[str]:
    """The names to check for `seed`, best first, without the seed itself and without repeats,
    at most `at_most` (one registrar check)."""
    label, tld = split(seed)
    others = [t.strip().strip(".").lower() for t in tlds]
    in_tlds = [f"{label}.{t}" for t in dict.fromkeys(others) if t and t != tld]
    # Interleave prefixes and suffixes so a short list still has both kinds.
    mixed = [
        name
        for pair in zip(PREFIXES, SUFFIXES, strict=True)
        for name in similar(label, tld, [pair[0]], [pair[1]])
    ]
    seen = {f"{label}.{tld}"}
    found = []
    for name in [*in_tlds, *mixed]:
        if name not in seen:
            seen.add(name)
            found.append(name)
    return found[:at_most]
