"""Two API processes sharing Redis act as one: one rate limit, and revocations seen by both.

The servers are real `uvicorn` processes on free loopback ports, over the suite's database
(a SQLite file shared by both, or the test PostgreSQL) and the redis-server the test setup
starts. The signal they share is also tested on its own, and the choice made by the settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select

from mailfleet.auth import cache
from mailfleet.auth.service import LastUsedRecorder
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit import shared
from mailfleet.kit.shared import LocalInvalidations
from mailfleet.models import ApiKey
from tests.conftest import TEST_KEY
from tests.factories import make_tenant
from tests.support.refuser import loopback_resolver
from tests.support.servers import free_port, stop_process

LIST = "/v1/mailboxes"
PER_MINUTE = 40
# What auth.cache documents: a change published by one process reaches the others within it.
BOUND = 1.0


def test_the_settings_choose_where_shared_state_lives(tmp_path: Path) -> None:
    def kind(**values: object) -> str:
        return shared.backend(Settings(data_dir=tmp_path, **values))

    assert kind() == "memory"
    assert kind(job_queue="redis") == "redis"
    assert kind(redis_url="redis://127.0.0.1:1/0") == "redis"
    assert kind(job_queue="redis", shared_state="memory") == "memory"
    assert kind(shared_state="redis") == "redis"


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.calls += 1


def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_a_published_change_reaches_the_other_process_not_the_publisher(
    redis_url: str, tmp_path: Path
) -> None:
    client = shared.redis_client(Settings(redis_url=redis_url))
    key = f"mailfleet:test:{tmp_path.name}"
    mine, theirs = Counter(), Counter()
    publisher = shared.RedisInvalidations(client, key, poll=0.05, on_change=mine).start()
    follower = shared.RedisInvalidations(client, key, poll=0.05, on_change=theirs).start()
    try:
        time.sleep(0.2)
        assert (mine.calls, theirs.calls) == (0, 0)
        publisher.publish()
        assert _wait_until(lambda: theirs.calls == 1, BOUND)
        time.sleep(0.2)
        # The publisher dropped its own cache when it committed; its own signal is not news.
        assert (mine.calls, theirs.calls) == (0, 1)
        # With no reads in between (threads stopped), a publish hears of one it did not make.
        publisher.close()
        follower.close()
        publisher.publish()
        follower.publish()
        assert (mine.calls, theirs.calls) == (0, 2)
        publisher.publish()
        assert (mine.calls, theirs.calls) == (1, 2)
    finally:
        publisher.close()
        follower.close()


def test_a_process_that_cannot_reach_redis_stops_trusting_its_cache(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    client = shared.redis_client(Settings(redis_url=url))
    dropped = Counter()
    follower = shared.RedisInvalidations(client, "k", poll=0.05, on_change=dropped).start()
    try:
        assert _wait_until(lambda: dropped.calls >= 3, BOUND)
    finally:
        follower.close()


def test_an_access_change_committed_here_is_published_and_one_published_elsewhere_heard(
    db: Database, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, shared_state_poll_seconds=0.05)
    client = redis.Redis.from_url(redis_url)
    invalidations = cache.share_invalidations(settings)
    try:
        assert cache.share_invalidations(settings) is invalidations  # one per process and Redis
        before = int(client.get(cache.INVALIDATION_KEY) or 0)
        owner = make_tenant(db)  # commits a user, a workspace, a membership and a key
        published = int(client.get(cache.INVALIDATION_KEY) or 0)
        assert published > before
        seen = cache.generation()
        time.sleep(0.2)
        assert cache.generation() == seen  # our own publish is not news
        with db.transaction() as session:  # a change that leaves access alone is not published
            key_id = session.scalars(select(ApiKey.id).where(ApiKey.user_id == owner.user_id))
            LastUsedRecorder.record(session, key_id.one())
        assert int(client.get(cache.INVALIDATION_KEY) or 0) == published
        client.incr(cache.INVALIDATION_KEY)  # as another process's commit would
        assert _wait_until(lambda: cache.generation() != seen, BOUND)
    finally:
        cache.stop_sharing()
    assert isinstance(cache.share_invalidations(Settings(data_dir=tmp_path)), LocalInvalidations)


def _server_env(database: Database, redis_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MAILFLEET_DATA_DIR": str(data_dir),
        "MAILFLEET_DATABASE_URL": database.engine.url.render_as_string(hide_password=False),
        "MAILFLEET_ENCRYPTION_KEYS": TEST_KEY,
        "MAILFLEET_REDIS_URL": redis_url,
        "MAILFLEET_SHARED_STATE": "redis",
        "MAILFLEET_JOB_QUEUE": "memory",
        "MAILFLEET_WORKER_IN_PROCESS": "false",
        "MAILFLEET_DNS_SERVER_ENABLED": "false",
        "MAILFLEET_DNS_RESOLVERS": loopback_resolver(),
        "MAILFLEET_LOCAL_TLDS": "test",
        "MAILFLEET_RATE_LIMIT_ENABLED": "true",
        "MAILFLEET_RATE_LIMIT_PER_SECOND": "0",
        "MAILFLEET_RATE_LIMIT_PER_MINUTE": str(PER_MINUTE),
        "MAILFLEET_LOG_LEVEL": "WARNING",
    }


def _start_server(env: dict[str, str], data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (data_dir / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "mailfleet.app:create_app", "--factory"]
        + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=data_dir,  # no .env of the checkout is read
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_for_health(process: subprocess.Popen[bytes], url: str, log_dir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            logs = "\n".join(path.read_text() for path in log_dir.glob("server-*.log"))
            raise RuntimeError(f"server exited with {process.returncode}:\n{logs}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer /health")


@pytest.fixture(scope="module")
def servers(
    migrated_database: Database, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[httpx.Client]]:
    """Two API processes on the suite's database and Redis, one client for each."""
    data_dir = tmp_path_factory.mktemp("servers")
    with two_servers(_server_env(migrated_database, redis_url, data_dir), data_dir) as clients:
        yield clients


@contextmanager
def two_servers(env: dict[str, str], data_dir: Path) -> Iterator[list[httpx.Client]]:
    """Two API processes started with `env`, healthy, one client for each; stopped after."""
    started = [_start_server(env, data_dir) for _ in range(2)]
    clients = [httpx.Client(base_url=url, timeout=10) for _, url in started]
    try:
        for process, url in started:
            _wait_for_health(process, url, data_dir)
        yield clients
    finally:
        for client in clients:
            client.close()
        for process, _ in started:
            stop_process(process)


def _clear_of_a_minute_boundary(redis_url: str) -> None:
    """The minute window is aligned on Redis's clock: never start in its last 10 seconds."""
    seconds, _ = redis.Redis.from_url(redis_url).time()
    if seconds % 60 >= 50:
        time.sleep(60 - seconds % 60 + 0.05)


def test_a_rate_limit_counts_the_requests_of_both_processes(
    db: Database, servers: list[httpx.Client], redis_url: str
) -> None:
    owner = make_tenant(db)
    _clear_of_a_minute_boundary(redis_url)
    responses = [servers[i % 2].get(LIST, headers=owner.headers) for i in range(PER_MINUTE + 2)]
    assert [r.status_code for r in responses[:PER_MINUTE]] == [200] * PER_MINUTE
    remaining = [int(r.headers["ratelimit-remaining"]) for r in responses[:PER_MINUTE]]
    assert remaining == list(range(PER_MINUTE - 1, -1, -1))
    # Each process has seen only half the limit, and both refuse.
    for refused in responses[PER_MINUTE:]:
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_a_key_revoked_through_one_process_is_refused_by_the_other_within_the_bound(
    db: Database, servers: list[httpx.Client]
) -> None:
    first, second = servers
    owner = make_tenant(db)
    issued = first.post("/v1/api-keys", json={"name": "temp"}, headers=owner.headers).json()
    headers = {"Authorization": f"Bearer {issued['key']}"}
    # Both processes have the key in their auth cache.
    assert [c.get(LIST, headers=headers).status_code for c in (first, second, second)] == [200] * 3
    revoked = first.delete(f"/v1/api-keys/{issued['id']}", headers=owner.headers)
    assert revoked.status_code == 200
    since = time.monotonic()
    assert first.get(LIST, headers=headers).status_code == 401
    codes = []
    while time.monotonic() - since < BOUND + 0.5:
        codes.append(second.get(LIST, headers=headers).status_code)
        if codes[-1] == 401:
            break
        time.sleep(0.05)
    took = time.monotonic() - since
    assert codes[-1] == 401, codes
    assert set(codes[:-1]) <= {200}
    assert took < BOUND, f"refused after {took:.2f}s"
    refused = second.get(LIST, headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
