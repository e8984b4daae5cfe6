"""Zapmail's dns endpoints."""
