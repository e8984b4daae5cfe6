"""Payments API bodies: top-ups, saved cards, auto-recharge. Money is integer cents."""

from __future__ import annotations

import uuid

from pydantic import Field

from mailfleet.billing.wallet.schemas import Reason
from mailfleet.kit.schemas import ResponseSchema, Schema
from mailfleet.models import PaymentStatus


class TopUpCreate(Schema):
    amount_cents: int = Field(description="Cents to add to the wallet (settings bound it).")
    dry_run: bool = Field(
        default=False, description="Answer what would be charged and change nothing."
    )


class TopUp(ResponseSchema):
    payment_id: uuid.UUID | None = Field(description="Null for a dry run.")
    status: PaymentStatus | None
    url: str | None = Field(description="The Checkout page where the customer pays.")
    amount_cents: int
    currency: str
    dry_run: bool = False


class PaymentMethod(ResponseSchema):
    id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    default: bool = Field(description="The card auto-recharge charges.")


class PaymentMethodList(ResponseSchema):
    items: list[PaymentMethod]


class PaymentMethodRemoved(ResponseSchema):
    id: str
    deleted: bool = True


class AutoRechargeSet(Schema):
    enabled: bool
    threshold_cents: int | None = Field(
        default=None, description="Recharge when a debit leaves less than this (default 2000)."
    )
    amount_cents: int | None = Field(
        default=None, description="Cents charged per recharge (at least the settings' minimum)."
    )


class AutoRechargeState(ResponseSchema):
    enabled: bool
    threshold_cents: int
    amount_cents: int
    has_payment_method: bool
    # Set when enabling needs a card first: open it to save one; auto-recharge turns on when
    # the card is saved.
    setup_url: str | None = None
    setup_payment_id: uuid.UUID | None = None


class WebhookReceived(ResponseSchema):
    received: bool = True
    outcome: str = Field(description="applied, ignored, unmatched or duplicate.")


class RefundCreate(Schema):
    amount_cents: int = Field(
        description="Cents to give back: at most what is left to refund of the payment, and "
        "at most what the wallet holds (the wallet is debited by as much)."
    )
    reason: Reason = Field(description="Why (shown in the wallet's ledger).")


class RefundMade(ResponseSchema):
    refund_id: str = Field(description="The provider's refund (re_...).")
    status: str = Field(description="The provider's status: succeeded, pending, ...")
    payment_id: uuid.UUID
    amount_cents: int
    currency: str
    wallet_entry_id: uuid.UUID = Field(description="The REFUND entry that debited the wallet.")
    balance_after_cents: int
