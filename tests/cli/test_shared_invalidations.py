"""A key revoked through the CLI is refused by a running server that shares Redis with it.

The CLI (and `mailfleet worker`, which opens the database the same way) publishes its access
changes as a server process does (`auth.cache.share_invalidations`). The server here is a real
uvicorn process whose auth cache keeps answers for an hour, so the only way it can refuse a key
it has cached is hearing the CLI's signal: a key revoked by plain SQL, which publishes nothing,
stays accepted as the control.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis
from sqlalchemy import select, update

from mailfleet.auth import cache
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import ApiKey
from tests.auth.test_shared_state import _server_env, _wait_for_health
from tests.cli.conftest import RunCli
from tests.factories import Caller, make_tenant
from tests.support.servers import free_port, stop_process

LIST = "/v1/mailboxes"
# Only a liveness deadline: the 1 s bound itself is tested in tests/auth/test_shared_state.py.
DEADLINE = 30.0
# The server's auth cache keeps an answer for an hour instead of CACHE_SECONDS.
SERVER = """
import sys, time, uvicorn
from mailfleet.auth import cache
cache.AuthCache.__init__.__defaults__ = (3600.0, cache.CACHE_LIMIT, time.monotonic)
uvicorn.run("mailfleet.app:create_app", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning")
"""


@pytest.fixture
def shared_env(redis_url: str) -> Iterator[dict[str, str | None]]:
    """The CLI's environment for shared state in the test Redis; the CLI runs in this process,
    so its sharing is stopped afterwards."""
    yield {"MAILFLEET_REDIS_URL": redis_url, "MAILFLEET_SHARED_STATE": "redis"}
    cache.stop_sharing()


@pytest.fixture(scope="module")
def server(
    migrated_database: Database, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    data_dir = tmp_path_factory.mktemp("cli-server")
    port = free_port()
    log = (data_dir / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        # No rate limit: the test polls until the revocation is heard.
        env={
            **_server_env(migrated_database, redis_url, data_dir),
            "MAILFLEET_RATE_LIMIT_ENABLED": "false",
        },
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(process, url, data_dir)
        with httpx.Client(base_url=url, timeout=10) as client:
            yield client
    finally:
        stop_process(process)


def _key_id(db: Database, caller: Caller) -> uuid.UUID:
    with db.transaction(write=False) as session:
        return session.scalars(select(ApiKey.id).where(ApiKey.user_id == caller.user_id)).one()


def _counter(redis_url: str) -> int:
    return int(redis.Redis.from_url(redis_url).get(cache.INVALIDATION_KEY) or 0)


def test_a_cli_revocation_is_published_to_the_shared_state(
    db: Database, cli: RunCli, shared_env: dict[str, str | None], redis_url: str
) -> None:
    owner = make_tenant(db)
    before = _counter(redis_url)
    result = cli("key", "revoke", str(_key_id(db, owner)), env=shared_env)
    assert result.exit_code == 0, result.output
    assert "within 1 second" in result.output
    assert _counter(redis_url) > before


def test_without_shared_state_the_cli_says_the_longer_bound(db: Database, cli: RunCli) -> None:
    owner = make_tenant(db)
    result = cli("key", "revoke", str(_key_id(db, owner)))
    assert result.exit_code == 0, result.output
    assert "within 5 seconds" in result.output


def test_a_key_revoked_through_the_cli_is_refused_by_a_running_server(
    db: Database, cli: RunCli, shared_env: dict[str, str | None], server: httpx.Client
) -> None:
    by_sql, by_cli = make_tenant(db), make_tenant(db)
    for caller in (by_sql, by_cli):  # both answers now in the server's auth cache
        assert server.get(LIST, headers=caller.headers).status_code == 200

    # The control: revoked behind every process's back, the cached answer stands.
    with db.engine.begin() as connection:
        connection.execute(
            update(ApiKey).where(ApiKey.id == _key_id(db, by_sql)).values(revoked_at=clock.now())
        )
    assert server.get(LIST, headers=by_sql.headers).status_code == 200

    result = cli("key", "revoke", str(_key_id(db, by_cli)), env=shared_env)
    assert result.exit_code == 0, result.output
    deadline = time.monotonic() + DEADLINE
    while (answer := server.get(LIST, headers=by_cli.headers)).status_code == 200:
        assert time.monotonic() < deadline, "the server never heard of the revocation"
        time.sleep(0.05)
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_api_key")
    # The signal dropped every cached answer, so the key revoked by SQL is refused now too.
    assert server.get(LIST, headers=by_sql.headers).status_code == 401
