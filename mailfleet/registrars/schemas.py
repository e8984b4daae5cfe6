from __future__ import annotations

from typing import Any

from pydantic import Field

from mailfleet.kit.schemas import ResponseSchema, Schema
from mailfleet.registrars.protocol import Verdict


class AvailabilityCheck(Schema):
    names: list[Any] = Field(
        min_length=1,
        max_length=100,
        description="Domain names (MAILFLEET_DOMAIN_SEARCH_MAX_NAMES at most, 20 by default).",
        examples=[["acme-mail.com", "getacme.com"]],
    )


class Offer(ResponseSchema):
    name: str
    verdict: Verdict
    available: bool
    registrar: str
    registrar_price_cents: int | None = Field(description="The registrar's first-year price.")
    price_cents: int | None = Field(description="Mailfleet's first-year price (with its markup).")
    renewal_price_cents: int | None
    currency: str
    reason: str = Field(description="Why it is not available, in the registrar's words.")


class Offers(ResponseSchema):
    items: list[Offer]
