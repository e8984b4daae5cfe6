"""Rate-limit counters in Redis: limiters sharing one Redis count together, window by window.

Each limiter plays one API process; they share the real redis-server the test setup starts.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from mailfleet.auth.ratelimit import RateLimiter, RateLimits, rate_limiter_for
from mailfleet.auth.ratelimit_redis import PREFIX, RedisRateLimiter
from mailfleet.config import Settings
from mailfleet.exceptions import RateLimited
from mailfleet.kit import shared
from tests.support.servers import free_port


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def key() -> str:
    return str(uuid.uuid4())


def _start_of_a_fresh_second(client: redis.Redis, *, same_minute: bool = False) -> None:
    """Wait until Redis's clock has just entered a second, so a few hits share its window.

    A first wait also keeps out of the last ten seconds of a minute, so that a test waiting
    for another fresh second on a loaded machine (``same_minute``) is still in that minute;
    that later wait must not skip to the next minute itself."""
    seconds, micros = client.time()
    wait = 1 - micros / 1_000_000 + 0.01
    if not same_minute and seconds % 60 >= 50:
        wait += 59 - seconds % 60
    time.sleep(wait)


def _refusal(limiter: RateLimits, key: str) -> RateLimited:
    with pytest.raises(RateLimited) as refused:
        limiter.hit(key)
    return refused.value


def test_two_limiters_on_one_redis_count_one_limit(client: redis.Redis, key: str) -> None:
    first, second = RedisRateLimiter(client, 0, 4), RedisRateLimiter(client, 0, 4)
    _start_of_a_fresh_second(client)
    quotas = [limiter.hit(key) for limiter in (first, second, first, second)]
    assert [(q.limit, q.remaining) for q in quotas if q] == [(4, 3), (4, 2), (4, 1), (4, 0)]
    for limiter in (first, second):
        refused = _refusal(limiter, key)
        assert refused.code == "rate_limited"
        assert refused.headers["RateLimit-Limit"] == "4"
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["Retry-After"] == refused.headers["RateLimit-Reset"]
    # Another key has its own counters.
    assert first.hit(str(uuid.uuid4())) is not None


def test_the_per_second_window_refuses_within_its_second_without_spending_the_minute(
    client: redis.Redis, key: str
) -> None:
    limiter = RedisRateLimiter(client, 1, 3)
    _start_of_a_fresh_second(client)
    quota = limiter.hit(key)
    assert quota is not None
    assert (quota.limit, quota.remaining) == (3, 2)
    refused = _refusal(limiter, key)
    assert refused.detail == "Rate limit of 1 requests per 1s exceeded."
    assert refused.headers["Retry-After"] == "1"
    # The minute window is reported, and the refused request did not count in it.
    assert (refused.headers["RateLimit-Limit"], refused.headers["RateLimit-Remaining"]) == (
        "3",
        "2",
    )
    _start_of_a_fresh_second(client, same_minute=True)
    again = limiter.hit(key)
    assert again is not None
    assert again.remaining == 1


def test_the_headers_match_the_in_memory_limiter(client: redis.Redis, key: str) -> None:
    def remaining(limiter: RateLimits) -> list[object]:
        seen: list[object] = []
        for _ in range(4):
            try:
                quota = limiter.hit(key)
                seen.append(quota and (quota.limit, quota.remaining))
            except RateLimited as refused:
                seen.append((refused.code, refused.headers["RateLimit-Remaining"]))
        return seen

    _start_of_a_fresh_second(client)
    assert remaining(RedisRateLimiter(client, 10, 3)) == remaining(RateLimiter(10, 3))


def test_counters_expire_after_their_window(client: redis.Redis, key: str) -> None:
    RedisRateLimiter(client, 5, 50).hit(key)
    names = sorted(client.scan_iter(match=f"{PREFIX}{key}:*"))
    assert len(names) == 2
    ttls = sorted(int(client.ttl(name)) for name in names)
    assert 0 < ttls[0] <= 2
    assert 2 < ttls[1] <= 61


def test_without_redis_each_process_counts_alone(key: str) -> None:
    gone = shared.redis_client(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    limiter = RedisRateLimiter(gone, 0, 2)
    started = time.monotonic()
    assert [q.remaining for q in (limiter.hit(key), limiter.hit(key)) if q] == [1, 0]
    assert _refusal(limiter, key).code == "rate_limited"
    # Refused connections fail at once: no backoff on the request's path.
    assert time.monotonic() - started < 1


def test_the_settings_choose_the_limiter(redis_url: str) -> None:
    def limiter(**values: object) -> RateLimits:
        return rate_limiter_for(Settings(redis_url=redis_url, **values))

    assert isinstance(limiter(shared_state="redis"), RedisRateLimiter)
    assert isinstance(limiter(shared_state="memory"), RateLimiter)
    assert isinstance(limiter(job_queue="redis", shared_state="auto"), RedisRateLimiter)
    # No window, nothing to count: no Redis call on the hot path, no headers.
    off = limiter(shared_state="redis", rate_limit_enabled=False)
    assert isinstance(off, RateLimiter)
    assert off.hit("any") is None
