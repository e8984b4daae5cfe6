from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from mailfleet.kit.schemas import Name, ResponseSchema, Schema
from mailfleet.models import BillingPeriod, MailboxType, PlanStatus

LookupKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$"),
]
Cents = Annotated[int, Field(ge=0, le=100_000_000)]
Types = Annotated[list[MailboxType], Field(min_length=1, max_length=4)]
Tier = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


class Plan(ResponseSchema):
    id: uuid.UUID
    lookup_key: str
    version: int
    name: str
    tier: str
    period: BillingPeriod
    mailbox_types: list[MailboxType]
    slots: int
    price_cents: int
    addon_price_cents: int = Field(description="Price of one add-on slot for a whole period.")
    currency: str
    status: PlanStatus
    created_at: datetime
    retired_at: datetime | None


class PlanList(ResponseSchema):
    items: list[Plan]


class PlanCreate(Schema):
    lookup_key: LookupKey
    name: Name
    tier: Tier
    period: BillingPeriod
    mailbox_types: Types
    slots: Annotated[int, Field(ge=0, le=100_000)]
    price_cents: Cents
    addon_price_cents: Cents
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="ISO 4217; the deployment's billing currency when left out."
    )


class PlanUpdate(Schema):
    """Fields left out keep their value. A change makes a new version: existing subscriptions
    keep theirs, and its price, until they renew."""

    name: Name | None = None
    tier: Tier | None = None
    mailbox_types: Types | None = None
    slots: Annotated[int, Field(ge=0, le=100_000)] | None = None
    price_cents: Cents | None = None
    addon_price_cents: Cents | None = None
