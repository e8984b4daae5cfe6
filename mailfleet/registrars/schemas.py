from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from mailfleet.kit.schemas import ResponseSchema, Schema
from mailfleet.models import DomainPurchaseStatus, DomainRenewalStatus
from mailfleet.registrars.protocol import Verdict


class AvailabilityCheck(Schema):
    names: list[Any] = Field(
        min_length=1,
        max_length=100,
        description="Domain names (MAILFLEET_DOMAIN_SEARCH_MAX_NAMES at most, 20 by default).",
        examples=[["acme-mail.com", "getacme.com"]],
    )


class SuggestionsIn(Schema):
    seed: Annotated[str, Field(min_length=1, max_length=253, examples=["acme", "acme.com"])]
    tlds: list[Annotated[str, Field(min_length=1, max_length=63)]] = Field(
        default_factory=lambda: ["com", "io", "co", "net"],
        max_length=10,
        description="The seed's label is also tried in these TLDs.",
    )
    limit: Annotated[int, Field(ge=1, le=20)] = 10


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


class Suggestions(ResponseSchema):
    seed: str = Field(examples=["acme.com"])
    checked: int = Field(description="How many look-alike names were asked of the registrar.")
    items: list[Offer] = Field(description="The AVAILABLE ones, best first, at most `limit`.")


class PurchaseCreate(Schema):
    names: list[Any] = Field(min_length=1, max_length=100, examples=[["acme-mail.com"]])
    years: Annotated[int, Field(ge=1, le=10)] = 1
    dry_run: bool = Field(
        default=False, description="Answer the price and the refusals (200), buying nothing."
    )


class PurchaseQuote(ResponseSchema):
    items: list[Offer]
    years: int
    total_cents: int
    currency: str


class Purchase(ResponseSchema):
    id: uuid.UUID
    name: str
    years: int
    registrar: str
    status: DomainPurchaseStatus
    price_cents: int = Field(description="Per year, as paid.")
    currency: str
    nameservers: list[str] = Field(description="Set at the registrar; the domain's pair.")
    domain_id: uuid.UUID | None = Field(description="The domain, once registered.")
    failure_reason: str | None
    created_at: datetime
    registered_at: datetime | None


class Purchases(ResponseSchema):
    items: list[Purchase]
    total_cents: int
    currency: str


class Renewal(ResponseSchema):
    id: uuid.UUID
    domain_id: uuid.UUID
    domain_name: str
    registrar: str
    years: int
    status: DomainRenewalStatus
    amount_cents: int = Field(description="What the wallet paid; 0 when nothing was debited.")
    currency: str
    expires_before: datetime = Field(description="The registration end being renewed.")
    attempts: int = Field(description="Registrar calls made for it.")
    retry_at: datetime | None = Field(description="While PENDING: the next attempt.")
    failure_reason: str | None
    registrar_order_id: str | None
    created_at: datetime
    completed_at: datetime | None
