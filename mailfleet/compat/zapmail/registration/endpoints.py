"""Zapmail's domain search, purchase and quick setup endpoints."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
