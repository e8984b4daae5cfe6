"""The names one "available domains" search asks about (pure functions).

The hosted service's own suggestion engine is not documented: Mailfleet asks about the name,
its label in each requested TLD, then SIMILAR names made by fixed prefixes and suffixes, all
in one registrar check (one search of the quota, at most 1 + 10 + 4 = 15 names).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailfleet.compat.zapmail.registration import schemas
from mailfleet.registrars import suggestions
from mailfleet.registrars.service import Offer

# The first of the native suggestions' forms (registrars.suggestions), as this surface documents.
PREFIXES = ("get", "try")
SUFFIXES = ("hq", "mail")
SIMILAR = len(PREFIXES) + len(SUFFIXES)


def candidates(name: str, tlds: Sequence[str]) -> list[str]:
    """The name first, then the label in each other TLD, then the SIMILAR names (last)."""
    label, tld = suggestions.split(name)
    first = f"{label}.{tld}" if "." not in name.strip().strip(".") else name.strip()
    others = [t.strip().strip(".").lower() for t in tlds]
    alternatives = [f"{label}.{t}" for t in dict.fromkeys(others) if t and t != tld]
    return [first, *alternatives, *suggestions.similar(label, tld, PREFIXES, SUFFIXES)]


def search(offers: Sequence[Offer], years: int, *, alternatives: int) -> dict[str, Any]:
    """The asked name's offer flattened, `alternatives` (other TLDs) and `suggestions`."""
    first = schemas.offer(offers[0], years)
    return {
        "domainName": first["domainName"],
        "available": first["available"],
        "premium": first["premium"],
        "years": years,
        "price": first["price"],
        "currency": first["currency"],
        "alternatives": [schemas.offer(o, years) for o in offers[1:alternatives]],
        "suggestions": [schemas.offer(o, years) for o in offers[alternatives:]],
    }
