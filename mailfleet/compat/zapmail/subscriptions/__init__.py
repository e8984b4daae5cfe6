"""Zapmail's subscriptions endpoints."""
