"""State that must agree across server processes: where it lives, and the change signal.

One process (the embedded default) keeps such state in its own memory. Several API processes
behind one address must share it, or each would count its own rate limits and trust its own
auth cache after another process revoked a key. `MAILFLEET_SHARED_STATE` picks the place:

* `memory`: per process; right for one process, wrong for several.
* `redis`: in the Redis at `MAILFLEET_REDIS_URL`, seen by every process using it.
* `database`: in the PostgreSQL database every process uses already (tables `shared_counters`
  and `rate_limit_counters`), for several processes without a Redis: one short transaction per
  rate-limited request, so Redis is the cheaper choice where there is one. Not on SQLite.
* `auto` (the default): `redis` when the deployment already runs on Redis (`MAILFLEET_JOB_QUEUE=
  redis`, or `MAILFLEET_REDIS_URL` set explicitly), else `memory`. A plain `mailfleet serve` thus
  never needs a Redis, and a deployment following "Going live" gets the shared state it needs.

Calls to Redis here are short (SOCKET_TIMEOUT): each sits on a request's path or inside a bound
promised to users, so a Redis that hangs must cost a fraction of a second, not a request's time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mailfleet.config import Settings

log = logging.getLogger(__name__)

Backend = Literal["memory", "redis", "database"]

# Seconds a shared-state call to Redis may take to connect, and then to answer, before it
# counts as failed. Redis on loopback or a LAN answers in well under a millisecond.
SOCKET_TIMEOUT = 0.3

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def backend(settings: Settings) -> Backend:
    """Where this deployment keeps state that several processes must agree on."""
    if settings.shared_state == "database":
        url = settings.database_url.get_secret_value()
        if not url.startswith("postgresql"):
            raise ValueError(
                "MAILFLEET_SHARED_STATE=database needs PostgreSQL (MAILFLEET_DATABASE_URL): "
                "with SQLite use memory (one process) or redis"
            )
        return "database"
    if settings.shared_state != "auto":
        return settings.shared_state
    if settings.job_queue == "redis" or "redis_url" in settings.model_fields_set:
        return "redis"
    return "memory"


def redis_client(settings: Settings) -> redis.Redis:
    """One client (and connection pool) per Redis URL in this process; it is thread-safe.

    It never retries (the library's default backs off for seconds): every caller here has a
    cheaper answer than waiting, and its own way to try again later.
    """
    url = settings.redis_url.get_secret_value()
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(
                url,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
            )
        return client


class Invalidations(Protocol):
    """Tells the other processes that something they cache has changed."""

    def publish(self) -> None: ...

    def close(self) -> None: ...


class LocalInvalidations:
    """One process: whoever changed something has already dropped its own cache."""

    def publish(self) -> None:
        return None

    def close(self) -> None:
        return None


class Counter(Protocol):
    """A shared number that only goes up: `get` reads it (None when never set), `incr` adds one
    and returns the new value. Both raise one of `errors` when the store does not answer."""

    errors: tuple[type[Exception], ...]

    def get(self) -> int | None: ...

    def incr(self) -> int: ...


class RedisCounter:
    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key
        self.errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def get(self) -> int | None:
        raw = self.client.get(self.key)
        return int(raw) if raw is not None else None

    def incr(self) -> int:
        return int(self.client.incr(self.key))


class PolledInvalidations:
    """A shared counter that `publish` increments and a daemon thread reads every `poll` s.

    `on_change` runs in that thread when the counter moved since the last read, and also when
    the store did not answer: a process that cannot tell whether others changed something must
    not go on trusting its cache. So a change published anywhere reaches every process within
    `poll` plus the store's timeouts (for Redis 2 * SOCKET_TIMEOUT: to connect, then to
    answer), whether the store answers or not.
    """

    def __init__(
        self, counter: Counter, *, poll: float, on_change: Callable[[], None], name: str
    ) -> None:
        self.counter = counter
        self.poll = poll
        self.on_change = on_change
        self._seen: int | None = None
        # Counts this process's own publishes: a read that raced with one is not compared, so
        # our own increment (already applied locally) does not come back as a change.
        self._published = 0
        self._healthy = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"invalidations:{name}", daemon=True)

    def start(self) -> PolledInvalidations:
        self._read()
        self._thread.start()
        return self

    def publish(self) -> None:
        try:
            value = self.counter.incr()
        except self.counter.errors as error:
            # The change is committed; other processes now see it only when their cache expires.
            log.warning("could not publish a cache invalidation: %s", error)
            return
        with self._lock:
            self._published += 1
            # Not the next number: another process published since our last read, and that
            # change must be heard too.
            missed = self._seen is not None and value != self._seen + 1
            self._seen = value
        if missed:
            self.on_change()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.poll + SOCKET_TIMEOUT + 1)

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            self._read()

    def _read(self) -> None:
        with self._lock:
            published = self._published
        try:
            raw = self.counter.get()
        except self.counter.errors as error:
            self._failed(error)
            return
        value = raw if raw is not None else 0
        with self._lock:
            self._recovered()
            if published != self._published or value == self._seen:
                return
            first = self._seen is None
            self._seen = value
        if not first:
            self.on_change()

    def _failed(self, error: Exception) -> None:
        if self._healthy:
            log.warning(
                "shared state is not answering; caches are dropped until it does: %s", error
            )
        self._healthy = False
        self.on_change()

    def _recovered(self) -> None:
        if not self._healthy:
            log.warning("shared state answers again; caches are shared again")
        self._healthy = True


def RedisInvalidations(  # noqa: N802 - reads as the class it builds
    client: redis.Redis, key: str, *, poll: float, on_change: Callable[[], None]
) -> PolledInvalidations:
    """Invalidations through a counter in Redis."""
    return PolledInvalidations(RedisCounter(client, key), poll=poll, on_change=on_change, name=key)
