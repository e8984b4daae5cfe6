"""Zapmail's subscription shapes (reference 3.7, 3.11, 5.8)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

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
    """A plan by its lookup key, or by its name, billing cycle and provider."""

    lookup_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        examples=["google_starter_monthly"],
        description="The plan's lookup key (GET /v1/plans lists them).",
    )
    plan_name: Literal["STARTER", "GROWTH", "PRO"] | None = Field(
        default=None, description="With billingCycle, instead of lookupKey."
    )
    billing_cycle: Literal["MONTHLY", "QUARTERLY", "YEARLY"] | None = None
    service_provider: Literal["GOOGLE", "MICROSOFT"] | None = Field(
        default=None, description="Default: the x-service-provider header, else GOOGLE."
    )

    @model_validator(mode="before")
    @classmethod
    def _upper(cls, data: Any) -> Any:
        # The document writes these in capitals; a client sending "starter" means the same.
        if isinstance(data, dict):
            for key in ("planName", "billingCycle", "serviceProvider"):
                if isinstance(data.get(key), str):
                    data = {**data, key: data[key].strip().upper()}
        return data

    @model_validator(mode="after")
    def _one_plan(self) -> Purchase:
        if not self.lookup_key and not (self.plan_name and self.billing_cycle):
            raise ValueError("lookupKey (or planName and billingCycle) is required")
        return self


class SubscriptionRefBody(CamelIn):
    subscription_id: str = SubscriptionRef


class WalletMove(CamelOut):
    previous_balance: float
    amount_deducted: float
    current_balance: float


class PurchaseInvoice(CamelOut):
    invoice_id: uuid.UUID
    number: str = Field(description="The invoice's number as printed on it.")
    invoice_url: str
    amount: float = Field(description="USD charged.")
    currency: str = Field(examples=["USD"])
    status: str = Field(examples=["paid"], description="Always paid: the wallet paid it.")


class Purchased(CamelOut):
    subscription: Subscription
    invoice: PurchaseInvoice | None
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
