"""Mailfleet: a self-hosted control plane for cold-email infrastructure."""

__version__ = "0.1.0"
