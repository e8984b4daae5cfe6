"""When a domain's DNS is looked at next: the periodic health check of a live zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailfleet.config import Settings
from mailfleet.kit import clock


def health_due(settings: Settings) -> datetime:
    return clock.now() + timedelta(seconds=settings.dns_health_interval)
