"""A `mailfleet worker` killed mid-export of 500 mailboxes, then a new one started: every
mailbox is at the Instantly fake exactly once, and the job completes.

The fake holds the account-creating calls once 200 have gone through, so the kill lands with
some batches recorded, others not, and a few pushes in flight. Those in-flight pushes are let
through after the kill (the app created them; Mailfleet never heard back): the new worker's
re-run must find them already there (409) and record them UPDATED, not create them twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import ExportJob, ExportOutcome, ExportResult, ExportStatus
from tests.conftest import TEST_KEY
from tests.exports.conftest import add_account, ready_mailboxes
from tests.factories import make_tenant
from tests.fakes.sequencers.instantly import InstantlyFake

MAILBOXES = 500
HOLD_AFTER = 200


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _outcomes(db: Database, job_id: uuid.UUID) -> dict[ExportOutcome, int]:
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(ExportResult.status, func.count())
            .where(ExportResult.job_id == job_id)
            .group_by(ExportResult.status)
        ).all()
    return {status: count for status, count in rows}


def _status(db: Database, job_id: uuid.UUID) -> ExportStatus:
    with db.transaction(write=False) as session:
        return session.get_one(ExportJob, job_id).status


def test_a_killed_worker_resumes_the_export_and_creates_every_mailbox_once(
    db: Database,
    make_client: Callable[..., TestClient],
    fake_settings: dict[str, Any],
    instantly: InstantlyFake,
    start_worker: Callable[[dict[str, str]], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    # The API enqueues into the SQLite job queue in tmp_path, which the worker process reads.
    api = make_client(**fake_settings, job_queue="sqlite", job_lease_seconds=3)
    owner = make_tenant(db)
    add_account(api, owner)
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, MAILBOXES)]
    instantly.hold(after=HOLD_AFTER)
    response = api.post(
        "/v1/exports", json={"app": "INSTANTLY", "mailbox_ids": ids}, headers=owner.headers
    )
    assert response.status_code == 202, response.text
    job_id = uuid.UUID(response.json()["id"])
    env = {
        **os.environ,
        "MAILFLEET_DATA_DIR": str(tmp_path),
        "MAILFLEET_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "MAILFLEET_ENCRYPTION_KEYS": TEST_KEY,
        "MAILFLEET_JOB_QUEUE": "sqlite",
        "MAILFLEET_JOB_LEASE_SECONDS": "3",
        "MAILFLEET_SWEEP_INTERVAL": "1",
        "MAILFLEET_EXPORT_INSTANTLY_BASE_URL": instantly.base_url,
        "MAILFLEET_EXPORT_BACKOFF_SECONDS": "[0]",
        "MAILFLEET_LOG_LEVEL": "WARNING",
    }

    first = start_worker(env)
    assert instantly.waiting.acquire(timeout=120), "the worker never reached the held fake"
    first.send_signal(signal.SIGKILL)
    first.wait()
    at_kill = _outcomes(db, job_id)
    assert at_kill.get(ExportOutcome.PENDING, 0) > 0, f"killed too late: {at_kill}"
    assert at_kill.get(ExportOutcome.CREATED, 0) > 0, f"killed too early: {at_kill}"
    instantly.release()
    # The pushes in flight at the kill reach the app after all (it answers a dead socket).
    _wait(lambda: len(instantly.created) > HOLD_AFTER, 30, "the held pushes to land")

    start_worker(env)
    _wait(lambda: _status(db, job_id) == ExportStatus.COMPLETED, 180, "the export to complete")

    assert len(instantly.created) == MAILBOXES
    assert len(set(instantly.created)) == MAILBOXES
    done = _outcomes(db, job_id)
    assert done.get(ExportOutcome.PENDING, 0) == 0
    assert done.get(ExportOutcome.FAILED, 0) == 0
    assert done[ExportOutcome.CREATED] + done[ExportOutcome.UPDATED] == MAILBOXES
    # The pushes the first worker made but never recorded came back as updates.
    assert done[ExportOutcome.UPDATED] >= 1
