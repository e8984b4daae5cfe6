"""Two API processes sharing only PostgreSQL act as one (MAILFLEET_SHARED_STATE=database): one
rate limit, and revocations seen by both within the documented bound.

Always on the test PostgreSQL (the setting refuses SQLite), in a database of its own so the
suite's per-test cleanup of the shared one does not race with the servers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url

from mailfleet import migrations
from mailfleet.auth.shared_db import DatabaseCounter, DatabaseRateLimiter
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exceptions import RateLimited
from mailfleet.kit import shared
from tests.auth.test_shared_state import (
    BOUND,
    LIST,
    PER_MINUTE,
    Counter,
    _server_env,
    _wait_until,
    two_servers,
)
from tests.conftest import base_settings
from tests.factories import make_tenant


@pytest.fixture(scope="module")
def pg(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated PostgreSQL database of this module's own."""
    name = f"shared_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    database = Database(base_settings(tmp_path_factory.mktemp("shared-db"), url))
    migrations.upgrade(database.engine)
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def _engine(database: Database) -> Engine:
    # Each limiter its own engine, as each process has its own.
    return create_engine(database.engine.url.render_as_string(hide_password=False))


def _clear_of_a_minute_boundary(database: Database) -> None:
    """Windows are aligned on the database's clock: never start in a minute's last 10 s."""
    with database.engine.connect() as connection:
        now = float(connection.scalar(select(func.extract("epoch", func.now()))) or 0)
    if now % 60 >= 50:
        time.sleep(60 - now % 60 + 0.05)


def test_the_setting_refuses_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        shared.backend(Settings(data_dir=tmp_path, shared_state="database"))


def test_two_limiters_count_against_one_limit_and_a_refusal_counts_nowhere(pg: Database) -> None:
    engines = [_engine(pg), _engine(pg)]
    limiters = [DatabaseRateLimiter(engine, 0, 10) for engine in engines]
    key = f"key-{uuid.uuid4()}"
    try:
        _clear_of_a_minute_boundary(pg)
        remaining = [limiters[i % 2].hit(key) for i in range(10)]
        assert [quota.remaining for quota in remaining if quota] == list(range(9, -1, -1))
        for limiter in limiters:
            with pytest.raises(RateLimited) as refused:
                limiter.hit(key)
            assert refused.value.headers["RateLimit-Remaining"] == "0"
            assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
        with pg.engine.connect() as connection:
            counted = connection.scalar(
                text("SELECT count FROM rate_limit_counters WHERE key = :k"), {"k": key}
            )
        assert counted == 10
    finally:
        for engine in engines:
            engine.dispose()


def test_a_change_published_by_one_process_reaches_the_other(pg: Database) -> None:
    key = f"generation-{uuid.uuid4()}"
    engines = [_engine(pg), _engine(pg)]
    mine, theirs = Counter(), Counter()
    publisher = shared.PolledInvalidations(
        DatabaseCounter(engines[0], key), poll=0.05, on_change=mine, name="a"
    ).start()
    follower = shared.PolledInvalidations(
        DatabaseCounter(engines[1], key), poll=0.05, on_change=theirs, name="b"
    ).start()
    try:
        publisher.publish()
        assert _wait_until(lambda: theirs.calls == 1, BOUND)
        time.sleep(0.2)
        assert mine.calls == 0  # its own publish is not news to the publisher
    finally:
        publisher.close()
        follower.close()
        for engine in engines:
            engine.dispose()


@pytest.fixture(scope="module")
def servers(pg: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[httpx.Client]]:
    data_dir = tmp_path_factory.mktemp("db-servers")
    env = _server_env(pg, "redis://127.0.0.1:1/0", data_dir)
    env["MAILFLEET_SHARED_STATE"] = "database"
    with two_servers(env, data_dir) as clients:
        yield clients


def test_a_rate_limit_counts_the_requests_of_both_processes(
    pg: Database, servers: list[httpx.Client]
) -> None:
    owner = make_tenant(pg)
    _clear_of_a_minute_boundary(pg)
    responses = [servers[i % 2].get(LIST, headers=owner.headers) for i in range(PER_MINUTE + 2)]
    assert [r.status_code for r in responses[:PER_MINUTE]] == [200] * PER_MINUTE
    remaining = [int(r.headers["ratelimit-remaining"]) for r in responses[:PER_MINUTE]]
    assert remaining == list(range(PER_MINUTE - 1, -1, -1))
    for refused in responses[PER_MINUTE:]:
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"


def test_a_key_revoked_through_one_process_is_refused_by_the_other_within_the_bound(
    pg: Database, servers: list[httpx.Client]
) -> None:
    first, second = servers
    owner = make_tenant(pg)
    issued = first.post("/v1/api-keys", json={"name": "temp"}, headers=owner.headers).json()
    headers = {"Authorization": f"Bearer {issued['key']}"}
    assert [c.get(LIST, headers=headers).status_code for c in (first, second, second)] == [200] * 3
    assert first.delete(f"/v1/api-keys/{issued['id']}", headers=owner.headers).status_code == 200
    since = time.monotonic()
    codes = []
    while time.monotonic() - since < BOUND + 0.5:
        codes.append(second.get(LIST, headers=headers).status_code)
        if codes[-1] == 401:
            break
        time.sleep(0.05)
    took = time.monotonic() - since
    assert codes[-1] == 401, codes
    assert took < BOUND, f"refused after {took:.2f}s"
