"""Zapmail's subscription shapes (reference 3.7, 3.11, 5.8)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field, model_validator

from mailfleet.billing.subscriptions.listing import Listed
from mailfleet.compat.shapes import CamelIn, CamelOut, Timestamp
from mailfleet.models.enums import SubscriptionStatus

SubscriptionRef = Field(min_length=1, max_length=100, examples=["sub_1XYZ"])


class Subscription(CamelOut):
    id: uuid.UUID
    subscription_id: str = Field(examples=["sub_1XYZ..."])
    subscription_status: str = Field(examples=["ACTIVE"])
    plan: str = Field(examples=["Starter"])
    price: float = Field(examples=[39], description="USD per period.")
    total_mailbox_quantity: int
    period_start: Timestamp
    period_end: Timestamp
    subscription_creation_date: Timestamp
    plan_upgrade_cancel_possible: bool
    payment_failure_message: str | None
    invoice_details: str | None = Field(description="The newest invoice's URL, or null.")
    service_provider: list[str] = Field(description="The mailbox types its slots hold.")
    lookup_key: str


class Cancel(CamelIn):
    subscription_id: str = SubscriptionRef
    revert_cancellation: bool


class Upgrade(CamelIn):
    subscription_id: str = SubscriptionRef
    lookup_key: str | None = Field(default=None, min_length=1, max_length=100)
    unique_plan_key: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one_key(self) -> Upgrade:
        if not (self.lookup_key or self.unique_plan_key):
            raise ValueError("lookupKey (or uniquePlanKey) is required")
        return self

    @property
    def plan_key(self) -> str:
        return str(self.lookup_key or self.unique_plan_key)


class Purchase(CamelIn):
    lookup_key: str = Field(
        min_length=1,
        max_length=100,
        examples=["google_starter_monthly"],
        description="The plan's lookup key (GET /v1/plans lists them).",
    )


class SubscriptionRefBody(CamelIn):
    subscription_id: str = SubscriptionRef


class WalletMove(CamelOut):
    previous_balance: float
    amount_deducted: float
    current_balance: float


class Purchased(CamelOut):
    subscription: Subscription
    wallet_balance: WalletMove


def subscription(item: Listed, invoice_url: str | None) -> dict[str, Any]:
    s = item.subscription
    return {
        "id": s.id,
        "subscriptionId": s.public_id,
        "subscriptionStatus": s.status.value,
        "plan": item.plan_name,
        "price": s.price_cents / 100,
        "totalMailboxQuantity": s.slots,
        "periodStart": s.current_period_start,
        "periodEnd": s.current_period_end,
        "subscriptionCreationDate": s.created_at,
        "planUpgradeCancelPossible": s.status == SubscriptionStatus.ACTIVE
        and not s.cancel_at_period_end,
        "paymentFailureMessage": s.payment_failure_message,
        "invoiceDetails": invoice_url,
        "serviceProvider": list(s.mailbox_types),
        "lookupKey": s.lookup_key,
    }
