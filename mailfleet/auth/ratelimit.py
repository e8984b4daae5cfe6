"""Per-API-key rate limits: fixed windows of one second and one minute, in process memory.

Limits and their remaining counts are reported with the IETF RateLimit headers on every
authenticated response, and a refused request gets 429 with Retry-After.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from mailfleet.exceptions import RateLimited


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


class RateLimiter:
    def __init__(self, per_second: int, per_minute: int) -> None:
        self._specs = [(1, per_second), (60, per_minute)]
        self._specs = [(s, n) for s, n in self._specs if n > 0]
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
                raise RateLimited(
                    f"Rate limit of {full[0].limit} requests per {full[0].seconds}s exceeded.",
                    headers={
                        "Retry-After": str(retry),
                        "RateLimit-Limit": str(widest.limit),
                        "RateLimit-Remaining": str(max(0, widest.limit - widest.count)),
                        "RateLimit-Reset": str(widest.reset_in(now)),
                    },
                )
            for window in windows:
                window.count += 1
            widest = windows[-1]
            return Quota(widest.limit, widest.limit - widest.count, widest.reset_in(now))
