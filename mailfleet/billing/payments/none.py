"""The embedded default: no payment provider. An operator credits wallets by hand (with a
reason, e.g. after a bank transfer); every call here says so."""

from __future__ import annotations

from mailfleet.billing.payments.protocol import (
    Charge,
    CheckoutRequest,
    CheckoutSession,
    InvalidSignature,
    PaymentMethod,
    PaymentsNotConfigured,
    ProviderEvent,
    Refund,
    RefundRequest,
)
from mailfleet.config import Settings

MESSAGE = "No payment provider is configured: an operator credits the wallet."


class NoPayments:
    name = "none"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def create_customer(
        self,
        *,
        workspace_id: str,
        email: str | None,
        idempotency_key: str,
        name: str | None = None,
    ) -> str:
        raise PaymentsNotConfigured(MESSAGE)

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise PaymentsNotConfigured(MESSAGE)

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
        raise PaymentsNotConfigured(MESSAGE)

    def payment_method_of_setup(self, setup_intent_id: str) -> str | None:
        raise PaymentsNotConfigured(MESSAGE)

    def list_payment_methods(self, customer_id: str) -> list[PaymentMethod]:
        return []

    def detach_payment_method(self, payment_method_id: str) -> None:
        raise PaymentsNotConfigured(MESSAGE)

    def refund(self, request: RefundRequest) -> Refund:
        raise PaymentsNotConfigured(MESSAGE)

    def intent_metadata(self, payment_intent_id: str) -> dict[str, str]:
        raise PaymentsNotConfigured(MESSAGE)

    def verify_event(self, payload: bytes, signature: str | None) -> ProviderEvent:
        raise InvalidSignature("no payment provider takes webhooks here")
