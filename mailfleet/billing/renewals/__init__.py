"""Renewals: the worker renews due subscriptions, retries past-due ones, expires them."""
