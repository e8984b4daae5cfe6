"""Zapmail's wallet and payment shapes (reference 3.8, 5.6): flat bodies, USD as numbers."""

from __future__ import annotations

from pydantic import Field

from mailfleet.compat.shapes import CamelIn, CamelOut


class AddBalance(CamelIn):
    amount: float = Field(gt=0, le=1_000_000, examples=[100.0], description="USD.")


class PaymentLink(CamelOut):
    message: str = Field(examples=["Checkout session created successfully"])
    payment_link: str | None = Field(examples=["https://checkout.stripe.com/c/pay/cs_test_..."])


class AutoRechargeDetails(CamelOut):
    amount: float = Field(description="USD added per recharge.")
    threshold: float = Field(description="USD: a recharge starts below this balance.")


class WalletBalance(CamelOut):
    message: str
    wallet_balance: float = Field(examples=[0])
    auto_recharge_enabled: bool
    auto_recharge_details: AutoRechargeDetails


class EnableAutoRecharge(CamelIn):
    enable: bool
    threshold: float = Field(default=20, ge=0, le=1_000_000)
    minimum_recharge_amount: float = Field(default=50, gt=0, le=1_000_000)


class AutoRechargeState(CamelOut):
    message: str
    auto_recharge_enabled: bool
    payment_link: str | None = None


class InvoiceFor(CamelIn):
    subscription_id: str = Field(min_length=1, max_length=100, examples=["sub_1234567890"])


class InvoiceUrl(CamelOut):
    invoice_url: str | None


def cents(amount: float) -> int:
    """USD as Zapmail sends it (a number) to integer cents, rounded to the cent."""
    return round(amount * 100)


def dollars(amount_cents: int) -> float:
    return amount_cents / 100
