"""Rendered pages of hot lists, kept until anything commits to the embedded SQLite database.

Dashboards and sequencer syncs poll the same first pages of a list over and over. Rendering a
page of 50 mailboxes costs about 0.5 ms of CPU; knowing that nothing changed since costs about
2 µs: SQLite's `PRAGMA data_version`, read on a connection kept for nothing else, changes
whenever any other connection commits to the database file, in this process or in another (the
`mailfleet worker`, the CLI). So a page is never stale, and no write pays for the cache.

A page is stored under the version read before its query ran: a commit that races with the
query only makes the entry look older than it is. Any commit empties the whole cache, so entries
need no dependency tracking. Keys must name everything the page depends on (the workspace, the
filters, the cursor, the page size), and callers check access before asking.

PostgreSQL has no such counter; there `PageCache` is off and every page is rendered.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy import Engine, QueuePool

# What an entry costs beyond its body (key, dict slot): counted so that many tiny pages (empty
# results of distinct searches) cannot grow the cache past its budget.
ENTRY_OVERHEAD = 512


class PageCache:
    def __init__(self, engine: Engine, *, max_bytes: int) -> None:
        # A pool that hands out one shared connection (tests' in-memory databases) would hide
        # commits from data_version, which only counts other connections' commits.
        self.enabled = (
            max_bytes > 0 and engine.dialect.name == "sqlite" and isinstance(engine.pool, QueuePool)
        )
        self._engine = engine
        self._max_bytes = max_bytes
        self._watcher: Any = None  # the pool's handle on it: dropping it would close it
        self._watch: Any = None  # the sqlite3 connection that reads data_version
        self._version: int | None = None
        self._pages: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def version(self) -> int | None:
        """The database's current version, emptying the cache if it moved; None when off."""
        if not self.enabled:
            return None
        with self._lock:
            version = self._read_version()
            if version != self._version:
                self._pages.clear()
                self._bytes = 0
                self._version = version
            return version

    def lookup(self, key: Hashable) -> tuple[int | None, bytes | None]:
        """The current version, and the page under `key` if it was rendered at that version."""
        version = self.version()
        if version is None:
            return None, None
        with self._lock:
            body = self._pages.get(key)
            if body is not None:
                self._pages.move_to_end(key)
            return version, body

    def put(self, key: Hashable, version: int | None, body: bytes) -> None:
        """Keep `body`, rendered by a query that started at `version`, unless it moved since."""
        cost = len(body) + ENTRY_OVERHEAD
        if version is None or cost > self._max_bytes:
            return
        with self._lock:
            if version != self._version or key in self._pages:
                return
            self._pages[key] = body
            self._bytes += cost
            while self._bytes > self._max_bytes:
                _, evicted = self._pages.popitem(last=False)
                self._bytes -= len(evicted) + ENTRY_OVERHEAD

    def close(self) -> None:
        with self._lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = self._watch = None
            self._pages.clear()
            self._bytes = 0
            self._version = None

    def _read_version(self) -> int:
        if self._watcher is None:
            # Detached from the pool: it is ours for good and never runs a transaction, so
            # every commit data_version counts is another connection's.
            self._watcher = self._engine.raw_connection()
            self._watch = self._watcher.driver_connection
            self._watcher.detach()
        row = self._watch.execute("PRAGMA data_version").fetchone()
        return int(row[0])
