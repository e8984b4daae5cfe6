"""Rate-limit counters in Redis, so every API process sharing it counts against one limit.

One Lua script per request reads every window's counter and, unless one is full, increments
them all: atomic in Redis, one round trip, and a refused request counts nowhere (as in memory).
Windows are aligned on Redis's own clock (TIME) to multiples of their length, so processes on
hosts whose clocks disagree still share windows; a counter expires a second after its window.

If Redis does not answer, requests are counted by this process alone (the in-memory limiter)
for a pause before Redis is asked again, one second doubling up to MAX_PAUSE while it keeps
failing: an outage of Redis loosens the limit to per process, rather than refusing every call
or making many wait for Redis's timeout (the light read path calls `hit` in the event loop).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis

from mailfleet.auth.ratelimit import Quota, RateLimiter, Spec, refused, specs

log = logging.getLogger(__name__)

PREFIX = "mailfleet:ratelimit:"
# Seconds of counting in process memory after Redis failed to answer once, and at most.
PAUSE = 1.0
MAX_PAUSE = 30.0
# Seconds between two warnings that Redis is not answering (the fallback is per request).
WARN_EVERY = 60.0

# KEYS[1]: the API key's prefix. ARGV: seconds and limit of each window, narrowest first.
# Returns {index of the first full window or 0, retry after, widest count, widest reset}.
HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = #ARGV / 2
local keys, counts, resets = {}, {}, {}
local full, retry = 0, 0
for i = 1, n do
  local seconds, limit = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local index = math.floor(now / seconds)
  keys[i] = KEYS[1] .. ':' .. seconds .. ':' .. string.format('%d', index)
  counts[i] = tonumber(redis.call('GET', keys[i]) or '0')
  resets[i] = math.max(1, math.ceil((index + 1) * seconds - now))
  if counts[i] >= limit then
    if full == 0 then full = i end
    retry = math.max(retry, resets[i])
  end
end
if full == 0 then
  for i = 1, n do
    counts[i] = redis.call('INCR', keys[i])
    if counts[i] == 1 then redis.call('EXPIRE', keys[i], tonumber(ARGV[2 * i - 1]) + 1) end
  end
end
return {full, retry, counts[n], resets[n]}
"""


class RedisRateLimiter:
    """Counts in Redis: the requests of every process using the same Redis, together."""

    def __init__(
        self,
        client: redis.Redis,
        per_second: int,
        per_minute: int,
        windows: Sequence[Spec] | None = None,
    ) -> None:
        self._specs = list(windows) if windows is not None else specs(per_second, per_minute)
        self._args = [value for spec in self._specs for value in spec]
        self._script = client.register_script(HIT)
        self._fallback = RateLimiter(per_second, per_minute, self._specs)
        self._warned_at = -WARN_EVERY
        self._paused_until = 0.0
        self._pause = PAUSE

    def hit(self, key: str) -> Quota | None:
        if not self._specs:
            return None
        if self._paused_until and time.monotonic() < self._paused_until:
            return self._fallback.hit(key)
        try:
            full, retry, count, reset = self._script(keys=[PREFIX + key], args=self._args)
        except redis.RedisError as error:
            self._paused_until = time.monotonic() + self._pause
            self._pause = min(MAX_PAUSE, self._pause * 2)
            self._warn(error)
            return self._fallback.hit(key)
        if self._paused_until:
            self._paused_until, self._pause = 0.0, PAUSE
        widest = self._specs[-1]
        if full:
            raise refused(self._specs[int(full) - 1], int(retry), widest, int(count), int(reset))
        return Quota(widest[1], widest[1] - int(count), int(reset))

    def _warn(self, error: redis.RedisError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("Redis is not answering; rate limits count per process: %s", error)
