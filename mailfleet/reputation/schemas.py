"""Response shapes of blacklist monitoring and the domain health score."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from mailfleet.kit.schemas import ResponseSchema


class Listing(ResponseSchema):
    zone: str = Field(description="The DNSBL zone, e.g. dbl.spamhaus.org.")
    subject: str = Field(description="The domain name or sending IP that is listed.")
    return_code: str = Field(description="The list's answer, e.g. 127.0.1.2 (DBL: spam domain).")
    reason: str | None = Field(description="The list's TXT reason, when it gives one.")
    listed_at: datetime
    delisted_at: datetime | None


class CheckError(ResponseSchema):
    zone: str
    error: str = Field(description="Why the zone gave no verdict (refused, no answer).")


class DnsPart(ResponseSchema):
    points: int
    of: int
    state: Literal["healthy", "problems", "drift", "unchecked"]


class AuthenticationPart(ResponseSchema):
    points: int
    of: int
    spf: bool
    dkim: bool
    dmarc: bool


class ListingsPart(ResponseSchema):
    points: int
    of: int
    current: int = Field(description="Current listings on domain zones; each costs 35 points.")


class ScoreParts(ResponseSchema):
    dns: DnsPart
    authentication: AuthenticationPart
    listings: ListingsPart


class HealthScore(ResponseSchema):
    total: int = Field(ge=0, le=100)
    band: Literal["good", "fair", "poor"] = Field(description="good >= 80, fair >= 50, poor.")
    parts: ScoreParts


class DomainReputation(ResponseSchema):
    domain_id: uuid.UUID
    domain: str
    checked_at: datetime | None = Field(description="Last blacklist check; null: not yet.")
    next_check_at: datetime | None
    errors: list[CheckError] = Field(description="Zones the last check got no verdict from.")
    score: HealthScore
    listings: list[Listing] = Field(description="Current listings.")
    history: list[Listing] = Field(description="Recent delisted listings, newest first.")


class ScoreBands(ResponseSchema):
    good: int
    fair: int
    poor: int


class ListedDomain(ResponseSchema):
    domain_id: uuid.UUID
    domain: str
    score: int
    listings: list[Listing]


class ReputationSummary(ResponseSchema):
    domains: int = Field(description="ACTIVE domains of the workspace.")
    bands: ScoreBands
    last_checked_at: datetime | None
    listed_domains: list[ListedDomain]
    sending_ip_listings: list[Listing] = Field(
        description="Current listings of the deployment's sending IPs (SMTP backend)."
    )
