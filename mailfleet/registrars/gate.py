"""A cap on the calls one registrar client has in flight at once.

Registrars refuse past a few concurrent requests (Namecheap and Porkbun answer 429): without a
cap, a few users checking names at the same moment turn into 502s. The client waits for a
place instead; a wait longer than the call's own timeout gives up as a passing failure. Per
process: each process of a deployment holds its own places.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mailfleet.config import Settings


class Gate:
    def __init__(self, settings: Settings) -> None:
        limit = settings.registrar_max_concurrency
        self._places = threading.BoundedSemaphore(limit) if limit else None
        self._wait = settings.registrar_timeout_seconds

    @contextmanager
    def place(self) -> Iterator[bool]:
        """Holds a place for one call; yields False when none came free in time."""
        if self._places is None:
            yield True
            return
        got = self._places.acquire(timeout=self._wait)
        try:
            yield got
        finally:
            if got:
                self._places.release()
