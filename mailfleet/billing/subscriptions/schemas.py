from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from mailfleet.billing.plans.schemas import LookupKey
from mailfleet.kit.schemas import ResponseSchema, Schema, Text
from mailfleet.models import BillingPeriod, LedgerKind, MailboxType, SubscriptionStatus

DRY_RUN = "Answer what it would cost and which rules would refuse it (200), changing nothing."


class QuoteLine(ResponseSchema):
    description: str
    quantity: int
    unit_amount_cents: int
    amount_cents: int = Field(description="Negative for a credit (the unused days of a period).")
    period_start: datetime | None
    period_end: datetime | None


class Refusal(ResponseSchema):
    code: str
    detail: str


class Quote(ResponseSchema):
    lines: list[QuoteLine]
    subtotal_cents: int
    credit_cents: int
    total_cents: int = Field(description="Charged to the wallet; negative: credited to it.")
    currency: str
    balance_cents: int
    shortfall_cents: int
    refusals: list[Refusal] = Field(description="Rules that would refuse it; empty: it would go.")


class SubscriptionCreate(Schema):
    lookup_key: LookupKey
    dry_run: bool = Field(default=False, description=DRY_RUN)


class SubscriptionUpgrade(Schema):
    lookup_key: LookupKey = Field(description="The plan to move to: bigger or longer.")
    dry_run: bool = Field(default=False, description=DRY_RUN)


class SubscriptionUpdate(Schema):
    notes: Annotated[Text, Field(max_length=4000)] | None = Field(
        description="Free text about the subscription; null clears it."
    )


class SubscriptionCancel(Schema):
    revert: bool = Field(
        default=False,
        description="false: cancel at the period end; true: undo a scheduled cancellation.",
    )


class AddonCreate(Schema):
    mailbox_type: MailboxType
    quantity: Annotated[int, Field(ge=1, le=10_000)]
    dry_run: bool = Field(default=False, description=DRY_RUN)


class Subscription(ResponseSchema):
    id: uuid.UUID
    public_id: str = Field(description="Stripe-style id (sub_...), accepted wherever the id is.")
    lookup_key: str
    plan_id: uuid.UUID
    status: SubscriptionStatus
    period: BillingPeriod
    mailbox_types: list[MailboxType]
    slots: int
    price_cents: int
    addon_price_cents: int
    currency: str
    current_period_start: datetime
    current_period_end: datetime
    renews_at: datetime | None = Field(description="The next renewal; null when none is due.")
    cancel_at_period_end: bool
    cancelled_at: datetime | None
    past_due_since: datetime | None
    expired_at: datetime | None
    payment_failure_message: str | None
    replaced_by_id: uuid.UUID | None
    notes: str | None
    created_at: datetime


class Period(ResponseSchema):
    period_start: datetime
    period_end: datetime
    slots: int
    amount_cents: int
    invoice_id: uuid.UUID | None


class Addon(ResponseSchema):
    id: uuid.UUID
    mailbox_type: MailboxType
    quantity: int
    unit_price_cents: int
    period_start: datetime
    period_end: datetime
    renew: bool
    removed_at: datetime | None


class InvoiceSummary(ResponseSchema):
    id: uuid.UUID
    number: str
    kind: LedgerKind
    total_cents: int
    currency: str
    issued_at: datetime


class SubscriptionDetail(Subscription):
    plan_name: str
    periods: list[Period]
    addons: list[Addon]
    invoices: list[InvoiceSummary]
