"""A domain's health score, 0 to 100, and the parts it is made of.

Weights (the parts add up to 100):
- listings, 50: a current listing on a domain zone (Spamhaus DBL, SURBL) costs 35, so one
  listing caps the score at 65 ("fair") and two at 50. Lists are what decides whether mail
  from the domain is delivered at all, hence the heaviest part.
- authentication, 30: 10 each for an SPF record (TXT `v=spf1` at the apex), a DKIM key (TXT
  `v=DKIM1`/`p=` or a CNAME under `_domainkey`) and a DMARC record (TXT `v=DMARC1` at
  `_dmarc`), read from the domain's records. Receivers junk or refuse mail without them.
- dns, 20: the last DNS health check (`Domain.health_report`): 20 when healthy, 10 when it
  found problems without drift or has not run yet, 0 on drift (records we manage changed or
  removed behind our back: SPF/DKIM may no longer be what receivers see).

Bands: good from 80, fair from 50, poor below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

LISTINGS_POINTS = 50
LISTING_COST = 35
AUTH_POINTS_EACH = 10
DNS_POINTS = 20
DNS_PARTIAL = 10
GOOD_FROM = 80
FAIR_FROM = 50

Band = Literal["good", "fair", "poor"]


@dataclass(frozen=True)
class RecordView:
    """What scoring needs of a DNS record."""

    name: str
    type: str
    content: str


@dataclass(frozen=True)
class Authentication:
    spf: bool
    dkim: bool
    dmarc: bool


@dataclass(frozen=True)
class Score:
    total: int
    band: Band
    dns: int
    authentication: int
    listings: int
    listed_on: int
    auth: Authentication
    dns_state: Literal["healthy", "problems", "drift", "unchecked"]

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "band": self.band,
            "parts": {
                "dns": {"points": self.dns, "of": DNS_POINTS, "state": self.dns_state},
                "authentication": {
                    "points": self.authentication,
                    "of": 3 * AUTH_POINTS_EACH,
                    "spf": self.auth.spf,
                    "dkim": self.auth.dkim,
                    "dmarc": self.auth.dmarc,
                },
                "listings": {
                    "points": self.listings,
                    "of": LISTINGS_POINTS,
                    "current": self.listed_on,
                },
            },
        }


def band_of(total: int) -> Band:
    if total >= GOOD_FROM:
        return "good"
    return "fair" if total >= FAIR_FROM else "poor"


def authentication(domain_name: str, records: Iterable[RecordView]) -> Authentication:
    spf = dkim = dmarc = False
    apex, dmarc_name, dkim_suffix = (
        domain_name,
        f"_dmarc.{domain_name}",
        f"._domainkey.{domain_name}",
    )
    for record in records:
        text = record.content.strip().strip('"').lower()
        if record.type == "TXT" and record.name == apex and text.startswith("v=spf1"):
            spf = True
        elif record.type == "TXT" and record.name == dmarc_name and text.startswith("v=dmarc1"):
            dmarc = True
        elif record.name.endswith(dkim_suffix) and (
            record.type == "CNAME"
            or (record.type == "TXT" and (text.startswith("v=dkim1") or "p=" in text))
        ):
            dkim = True
    return Authentication(spf, dkim, dmarc)


def dns_state(
    report: dict[str, Any] | None,
) -> Literal["healthy", "problems", "drift", "unchecked"]:
    if not report:
        return "unchecked"
    if report.get("drift"):
        return "drift"
    return "healthy" if report.get("ok") else "problems"


def compute(
    domain_name: str,
    health_report: dict[str, Any] | None,
    records: Iterable[RecordView],
    current_listings: int,
) -> Score:
    state = dns_state(health_report)
    dns = {"healthy": DNS_POINTS, "drift": 0}.get(state, DNS_PARTIAL)
    auth = authentication(domain_name, records)
    auth_points = AUTH_POINTS_EACH * sum((auth.spf, auth.dkim, auth.dmarc))
    listings = max(0, LISTINGS_POINTS - LISTING_COST * current_listings)
    total = dns + auth_points + listings
    return Score(
        total=total,
        band=band_of(total),
        dns=dns,
        authentication=auth_points,
        listings=listings,
        listed_on=current_listings,
        auth=auth,
        dns_state=state,
    )
