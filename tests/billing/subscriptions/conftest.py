"""The payments tests' Stripe fixtures (an app on the local Stripe fake), for the purchases
that recharge the wallet first."""

from tests.billing.payments.conftest import (  # noqa: F401
    stripe_client,
    stripe_fake,
    stripe_settings,
    tenant,
)
