"""Shared state in PostgreSQL (MAILFLEET_SHARED_STATE=database), for several processes without
a Redis: the auth cache's invalidation counter and the rate-limit windows.

Each call is its own short transaction on its own pooled connection, never the request's: a
rate-limit count must stand whether the request then fails or not, and must not wait on the
request's locks. Windows are aligned on the database's clock (`now()`), like Redis's TIME, so
processes on hosts whose clocks disagree share windows. A refused request counts nowhere: the
increments of a request over a limit are rolled back. If the database does not answer, the
rate limiter counts in process memory for a pause, as the Redis one does.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, OperationalError

from mailfleet.auth.ratelimit import Quota, RateLimiter, Spec, refused, specs
from mailfleet.models.shared import RateLimitCounter, SharedCounter

log = logging.getLogger(__name__)

# Seconds of counting in memory after the database failed to answer, doubling to MAX_PAUSE.
PAUSE = 1.0
MAX_PAUSE = 30.0
# One request in this many also deletes the windows that are over.
CLEANUP_ONE_IN = 500


class DatabaseCounter:
    """kit.shared.Counter in the `shared_counters` table."""

    def __init__(self, engine: Engine, key: str) -> None:
        self.engine = engine
        self.key = key
        self.errors: tuple[type[Exception], ...] = (DBAPIError,)

    def get(self) -> int | None:
        with self.engine.connect() as connection:
            return connection.scalar(
                select(SharedCounter.value).where(SharedCounter.key == self.key)
            )

    def incr(self) -> int:
        upsert = postgresql.insert(SharedCounter).values(key=self.key, value=1)
        statement = upsert.on_conflict_do_update(
            index_elements=[SharedCounter.key], set_={"value": SharedCounter.value + 1}
        ).returning(SharedCounter.value)
        with self.engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())


class _Full(Exception):
    """Raised inside the transaction to roll back a refused request's increments."""


class DatabaseRateLimiter:
    """Counts in PostgreSQL: the requests of every process using the database, together."""

    def __init__(
        self,
        engine: Engine,
        per_second: int,
        per_minute: int,
        windows: Sequence[Spec] | None = None,
    ) -> None:
        self.engine = engine
        self._specs = list(windows) if windows is not None else specs(per_second, per_minute)
        self._fallback = RateLimiter(per_second, per_minute, self._specs)
        self._paused_until = 0.0
        self._pause = PAUSE

    def hit(self, key: str) -> Quota | None:
        if not self._specs:
            return None
        if self._paused_until and time.monotonic() < self._paused_until:
            return self._fallback.hit(key)
        try:
            counted = self._count(key)
        except OperationalError as error:
            self._paused_until = time.monotonic() + self._pause
            self._pause = min(MAX_PAUSE, self._pause * 2)
            log.warning("the database is not answering; rate limits count per process: %s", error)
            return self._fallback.hit(key)
        self._paused_until, self._pause = 0.0, PAUSE
        return counted

    def _count(self, key: str) -> Quota:
        try:
            with self.engine.begin() as connection:
                now = float(connection.scalar(select(func.extract("epoch", func.now()))) or 0)
                counts: list[tuple[int, int, int]] = []  # (count, limit, reset)
                for seconds, limit in self._specs:
                    index = math.floor(now / seconds)
                    reset = max(1, math.ceil((index + 1) * seconds - now))
                    upsert = postgresql.insert(RateLimitCounter).values(
                        key=key,
                        window_seconds=seconds,
                        window_index=index,
                        count=1,
                        expires_at=func.now() + timedelta(seconds=seconds + 1),
                    )
                    statement = upsert.on_conflict_do_update(
                        index_elements=["key", "window_seconds", "window_index"],
                        set_={"count": RateLimitCounter.count + 1},
                    ).returning(RateLimitCounter.count)
                    counts.append((int(connection.execute(statement).scalar_one()), limit, reset))
                if any(count > limit for count, limit, _ in counts):
                    raise _Full(now)
                if random.randrange(CLEANUP_ONE_IN) == 0:
                    connection.execute(
                        delete(RateLimitCounter).where(RateLimitCounter.expires_at < func.now())
                    )
        except _Full:
            return self._refuse(counts)
        count, limit, reset = counts[-1]
        return Quota(limit, limit - count, reset)

    def _refuse(self, counts: list[tuple[int, int, int]]) -> Quota:
        # The counts include this request, rolled back: one less is what stands.
        full = [
            (spec, reset)
            for spec, (count, limit, reset) in zip(self._specs, counts, strict=True)
            if count > limit
        ]
        retry = max(reset for _, reset in full)
        widest_count, _, widest_reset = counts[-1]
        raise refused(full[0][0], retry, self._specs[-1], widest_count - 1, widest_reset)
