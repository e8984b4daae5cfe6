"""Payments: money asked of a provider (none, Stripe) that credits wallets from its outcome."""
