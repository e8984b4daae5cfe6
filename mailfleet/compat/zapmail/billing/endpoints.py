"""Zapmail's billing endpoints (v2, and the v1 paths the reference gives)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
