"""The registrar and Stripe fakes of the purchase tests, shared with the Zapmail surface's."""

from tests.compat.zapmail.conftest import porkbun, selling, stripe_fake

__all__ = ["porkbun", "selling", "stripe_fake"]
