"""Jobs go out only when their transaction commits, and run on SQLite and Redis queues alike."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from mailfleet.config import Settings
from mailfleet.db import Database, enqueue_after_commit
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import Worker

SEEN: list[str] = []
SEEN_LOCK = threading.Lock()


@job("test.remember")
def remember(runtime: Runtime, value: str) -> None:
    with SEEN_LOCK:
        SEEN.append(value)


def _wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _enqueue_then_fail(db: Database) -> None:
    with db.transaction() as session:
        enqueue_after_commit(session, "test.remember", "rolled-back")
        raise RuntimeError("the request failed")


@pytest.fixture(params=["sqlite", "redis"])
def queue_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    overrides: dict[str, Any] = {"job_queue": request.param, "sweep_interval": 3600}
    if request.param == "redis":
        overrides["redis_url"] = request.getfixturevalue("redis_url")
    return make_settings(**overrides)


def test_a_committed_transaction_sends_its_jobs_and_a_rolled_back_one_does_not(
    db: Database, queue_settings: Settings
) -> None:
    runtime = Runtime(queue_settings, db)
    runtime.huey.flush()
    SEEN.clear()
    with Worker(runtime, threads=2):
        with pytest.raises(RuntimeError):
            _enqueue_then_fail(db)
        with db.transaction() as session:
            enqueue_after_commit(session, "test.remember", "committed")
            # Not before the commit: a worker must never see a row that does not exist yet.
            time.sleep(0.3)
            assert SEEN == []
        assert _wait_for(lambda: SEEN == ["committed"])
    assert "rolled-back" not in SEEN


def test_many_jobs_all_run_once(db: Database, queue_settings: Settings) -> None:
    runtime = Runtime(queue_settings, db)
    runtime.huey.flush()
    SEEN.clear()
    with Worker(runtime, threads=4):
        for index in range(100):
            runtime.enqueue("test.remember", (str(index),))
        assert _wait_for(lambda: len(SEEN) >= 100)
        time.sleep(0.2)
    assert sorted(SEEN, key=int) == [str(i) for i in range(100)]
