"""The small Protocol a payment provider implements, and the plain values it hands back.

Implementations (one module each: `none`, `stripe`) are chosen by `settings.payments_provider`
through `registry.PAYMENT_PROVIDERS`. Calls go over the network: callers make them outside any
write transaction, after the Payment row they belong to is committed (its id is the
provider's idempotency key, so a retried call never charges twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class PaymentProviderError(Exception):
    """The provider refused or failed a call that is not a card outcome (bad key, outage)."""


class PaymentsNotConfigured(PaymentProviderError):
    """The `none` provider: there is nothing to call."""


class ProviderUnreachable(PaymentProviderError):
    """No answer came back (a timeout, a dropped connection): the call may have been applied.
    Retry with the same idempotency key rather than undo anything."""


@dataclass(frozen=True)
class CheckoutRequest:
    # "payment" (a top-up) or "setup" (save a card for auto-recharge).
    mode: str
    customer_id: str
    currency: str
    success_url: str
    cancel_url: str
    # The provider's idempotency key: our Payment's id.
    idempotency_key: str
    metadata: dict[str, str] = field(default_factory=dict)
    client_reference_id: str | None = None
    amount_cents: int = 0
    description: str = "Wallet top-up"


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str | None = None
    payment_status: str | None = None


@dataclass(frozen=True)
class Charge:
    """The outcome of an off-session charge of a saved card.

    status: "succeeded", "processing", "declined" or "requires_action" (the card asks the
    customer to authenticate; `url` is where they do it, when the provider gives one).
    """

    status: str
    payment_intent_id: str | None
    amount_cents: int
    failure_code: str | None = None
    failure_message: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class PaymentMethod:
    id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class RefundRequest:
    # What paid: the PaymentIntent (pi_...) or the Checkout Session (cs_...) that credited us.
    paid_by: str
    amount_cents: int
    # The provider's idempotency key: one per refund request.
    idempotency_key: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refund:
    """A refund the provider made: status "succeeded", "pending", "failed", "canceled" or
    "requires_action" (Stripe's refund statuses)."""

    id: str
    status: str
    amount_cents: int
    payment_intent_id: str | None = None
    charge_id: str | None = None


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook event: its id, type and the object it is about."""

    id: str
    type: str
    data: dict[str, Any]


class PaymentProvider(Protocol):
    name: str

    def create_customer(
        self,
        *,
        workspace_id: str,
        email: str | None,
        idempotency_key: str,
        name: str | None = None,
    ) -> str:
        """A new customer at the provider; returns its id (cus_...)."""
        ...

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession: ...

    def charge_saved_card(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_cents: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> Charge:
        """An off-session, confirmed charge; card outcomes are returned, not raised."""
        ...

    def payment_method_of_setup(self, setup_intent_id: str) -> str | None:
        """The payment method a completed setup saved."""
        ...

    def list_payment_methods(self, customer_id: str) -> list[PaymentMethod]: ...

    def detach_payment_method(self, payment_method_id: str) -> None: ...

    def refund(self, request: RefundRequest) -> Refund:
        """Give money back to the card that paid; raises PaymentProviderError when refused
        (ProviderUnreachable when no answer came back)."""
        ...

    def intent_metadata(self, payment_intent_id: str) -> dict[str, str]:
        """The metadata of a PaymentIntent (ours name the payment they belong to)."""
        ...

    def verify_event(self, payload: bytes, signature: str | None) -> ProviderEvent:
        """The event if the signature is the provider's; raises InvalidSignature otherwise."""
        ...


class InvalidSignature(PaymentProviderError):
    """A webhook whose signature is missing, forged or too old."""
