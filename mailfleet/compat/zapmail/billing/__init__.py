"""Zapmail's billing endpoints."""
