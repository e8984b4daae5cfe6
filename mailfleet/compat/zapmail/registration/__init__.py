"""Zapmail's domain search, purchase and quick setup endpoints."""
