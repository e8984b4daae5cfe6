"""Zapmail's users endpoints."""
