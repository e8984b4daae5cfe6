"""Zapmail's exports endpoints."""
