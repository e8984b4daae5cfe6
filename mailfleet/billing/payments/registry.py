"""The payment providers by name; `settings.payments_provider` picks the deployment's."""

from __future__ import annotations

from mailfleet.billing.payments.protocol import PaymentProvider
from mailfleet.config import Settings
from mailfleet.kit.providers import ProviderRegistry

PAYMENT_PROVIDERS: ProviderRegistry[PaymentProvider] = ProviderRegistry(
    "payments", "payment provider", default=lambda settings: settings.payments_provider
)
PAYMENT_PROVIDERS.register("none", "mailfleet.billing.payments.none:NoPayments")
PAYMENT_PROVIDERS.register("stripe", "mailfleet.billing.payments.stripe:StripePayments")


def provider_for(settings: Settings) -> PaymentProvider:
    """The deployment's payment provider, built once per Settings."""
    return PAYMENT_PROVIDERS.get(settings, settings.payments_provider)


def clear() -> None:
    PAYMENT_PROVIDERS.clear()
