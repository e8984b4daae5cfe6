"""Per-API-key rate limits: fixed windows of one second and one minute.

Limits and their remaining counts are reported with the IETF RateLimit headers on every
authenticated response, and a refused request gets 429 with Retry-After.

Three implementations of `RateLimits`, chosen by `rate_limiter_for` from MAILFLEET_SHARED_STATE
(kit.shared): `RateLimiter` counts in this process's memory, so with several processes each
allows the whole limit; `ratelimit_redis.RedisRateLimiter` counts in Redis and
`shared_db.DatabaseRateLimiter` in PostgreSQL, so the limit holds across every process sharing
them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, create_engine

from mailfleet.config import Settings
from mailfleet.exceptions import RateLimited
from mailfleet.kit import shared

# (seconds, limit) of each window, narrowest first; the widest one is reported in the headers.
Spec = tuple[int, int]


@dataclass
class Window:
    seconds: int
    limit: int
    started: float = 0.0
    count: int = 0

    def roll(self, now: float) -> None:
        if now - self.started >= self.seconds:
            self.started = now - (now % self.seconds)
            self.count = 0

    def reset_in(self, now: float) -> int:
        return max(1, math.ceil(self.started + self.seconds - now))


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset).encode()),
        ]


class RateLimits(Protocol):
    def hit(self, key: str) -> Quota | None:
        """Count one request for `key`; raise RateLimited when a window is full.

        None when no window is configured (nothing to report).
        """
        ...


def specs(per_second: int, per_minute: int) -> list[Spec]:
    return [(seconds, limit) for seconds, limit in ((1, per_second), (60, per_minute)) if limit > 0]


def refused(full: Spec, retry: int, widest: Spec, count: int, reset: int) -> RateLimited:
    """The 429 for a request refused by the `full` window; `count` is the widest one's."""
    return RateLimited(
        f"Rate limit of {full[1]} requests per {full[0]}s exceeded.",
        headers={
            "Retry-After": str(retry),
            "RateLimit-Limit": str(widest[1]),
            "RateLimit-Remaining": str(max(0, widest[1] - count)),
            "RateLimit-Reset": str(reset),
        },
    )


def rate_limiter_for(settings: Settings) -> RateLimits:
    per_second = settings.rate_limit_per_second if settings.rate_limit_enabled else 0
    per_minute = settings.rate_limit_per_minute if settings.rate_limit_enabled else 0
    where = shared.backend(settings)
    if where == "redis" and specs(per_second, per_minute):
        from mailfleet.auth.ratelimit_redis import RedisRateLimiter

        return RedisRateLimiter(shared.redis_client(settings), per_second, per_minute)
    if where == "database" and specs(per_second, per_minute):
        from mailfleet.auth.shared_db import DatabaseRateLimiter

        return DatabaseRateLimiter(shared_engine(settings), per_second, per_minute)
    return RateLimiter(per_second, per_minute)


def windowed_limiter(settings: Settings, windows: Sequence[Spec]) -> RateLimits:
    """The deployment's kind of limiter (in memory, Redis or the database) counting `windows`
    of (seconds, limit) of its own, for a quota other than the per-key request rate (domain
    searches per workspace, say)."""
    where = shared.backend(settings)
    if where == "redis":
        from mailfleet.auth.ratelimit_redis import RedisRateLimiter

        return RedisRateLimiter(shared.redis_client(settings), 0, 0, windows)
    if where == "database":
        from mailfleet.auth.shared_db import DatabaseRateLimiter

        return DatabaseRateLimiter(shared_engine(settings), 0, 0, windows)
    return RateLimiter(0, 0, windows)


def shared_engine(settings: Settings) -> Engine:
    """One small engine per database URL for shared state, apart from the request pools: a
    count must not wait for a pooled connection that a slow request holds."""
    url = settings.database_url.get_secret_value()
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_engine(
                url, pool_size=4, max_overflow=4, pool_pre_ping=True
            )
        return engine


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


class RateLimiter:
    """Counts in this process's memory: one process's requests only."""

    def __init__(
        self, per_second: int, per_minute: int, windows: Sequence[Spec] | None = None
    ) -> None:
        self._specs = list(windows) if windows is not None else specs(per_second, per_minute)
        self._windows: dict[str, list[Window]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> Quota | None:
        """Count one request for `key`; raise RateLimited when a window is full."""
        if not self._specs:
            return None
        now = time.monotonic()
        with self._lock:
            windows = self._windows.get(key)
            if windows is None:
                windows = [Window(seconds, limit) for seconds, limit in self._specs]
                self._windows[key] = windows
            for window in windows:
                window.roll(now)
            full = [w for w in windows if w.count >= w.limit]
            if full:
                retry = max(w.reset_in(now) for w in full)
                widest = windows[-1]
                raise refused(
                    (full[0].seconds, full[0].limit),
                    retry,
                    (widest.seconds, widest.limit),
                    widest.count,
                    widest.reset_in(now),
                )
            for window in windows:
                window.count += 1
            widest = windows[-1]
            return Quota(widest.limit, widest.limit - widest.count, widest.reset_in(now))
