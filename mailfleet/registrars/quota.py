"""The workspace's domain-search quota (10 per 30 minutes by default): one counter per app,
shared by every surface that searches, so a workspace cannot double its quota by switching API."""

from __future__ import annotations

import threading
from typing import Any

from mailfleet.auth.ratelimit import RateLimits, windowed_limiter

_lock = threading.Lock()


def searches(app_state: Any) -> RateLimits:
    """The app's search counter, made on first use (in memory, Redis or the database)."""
    with _lock:
        limiter: RateLimits | None = getattr(app_state, "domain_search_limiter", None)
        if limiter is None:
            settings = app_state.settings
            windows = [(settings.domain_search_window_minutes * 60, settings.domain_search_limit)]
            limiter = windowed_limiter(settings, windows if settings.domain_search_limit else [])
            app_state.domain_search_limiter = limiter
        return limiter
