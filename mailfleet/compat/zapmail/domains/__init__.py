"""Zapmail's domains endpoints."""
