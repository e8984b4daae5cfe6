"""Zapmail's mailboxes endpoints."""
