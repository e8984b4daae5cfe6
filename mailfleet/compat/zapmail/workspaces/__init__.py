"""Zapmail's workspaces endpoints."""
