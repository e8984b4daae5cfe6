"""The export job: pushes a job's PENDING mailboxes to the app in bounded parallel batches.

Each batch is read in one short transaction (the mailboxes' credentials decrypted in memory
only), pushed with no transaction open, and its outcomes recorded in another. A worker that
dies mid-way leaves the rest PENDING and its lease runs out; the sweep hands the job out again
and the re-run takes only what is still PENDING. A mailbox pushed but not yet recorded when
the worker died is pushed again, and the app's client updates what it already holds
(apps.protocol: Pushed "UPDATED"), so nothing is duplicated at the app.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.exports import accounts, csvfiles, transitions
from mailfleet.exports.apps import registry
from mailfleet.exports.apps.protocol import (
    AppAccount,
    AppError,
    Connection,
    ExportSettings,
    MailboxCredential,
)
from mailfleet.exports.service import RUN, counts
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import (
    ExportAccount,
    ExportApp,
    ExportJob,
    ExportOutcome,
    ExportResult,
    ExportStatus,
    Mailbox,
    MailboxStatus,
)

log = logging.getLogger(__name__)

REASON_LIMIT = 1000
SWEEP_CHUNK = 100


@dataclass(frozen=True)
class Work:
    result_id: uuid.UUID
    mailbox: MailboxCredential | None
    skip: str | None = None


@dataclass(frozen=True)
class Outcome:
    result_id: uuid.UUID
    status: ExportOutcome
    reason: str | None = None
    remote_id: str | None = None


class Pacer:
    """Shared by a job's threads: a 429's Retry-After holds every one of them, not just the
    thread that got it, so the job slows down to what the app allows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._not_before = 0.0

    def wait(self) -> None:
        with self._lock:
            delay = self._not_before - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)


@job(RUN)
def run_export(runtime: Runtime, export_id: str) -> None:
    settings, box = runtime.settings, SecretBox.from_settings(runtime.settings)
    started = _start(runtime, uuid.UUID(export_id), box)
    if started is None:
        return
    app_account, export_settings, app = started
    sequencer = registry.sequencer_for(settings, app)
    if sequencer is None:
        _finish(runtime, uuid.UUID(export_id), f"No API client for {app.value}.")
        return
    connection = sequencer.connect(app_account)
    try:
        _push_all(runtime, uuid.UUID(export_id), connection, export_settings, box)
    finally:
        connection.close()
    _finish(runtime, uuid.UUID(export_id), None)


def _start(
    runtime: Runtime, export_id: uuid.UUID, box: SecretBox
) -> tuple[AppAccount, ExportSettings, ExportApp] | None:
    with runtime.database.transaction() as session:
        found = session.get(ExportJob, export_id, with_for_update=True)
        if found is None or found.status in (ExportStatus.COMPLETED, ExportStatus.FAILED):
            return None
        account = session.get(ExportAccount, found.account_id) if found.account_id else None
        now = clock.now()
        transitions.move(session, found, ExportStatus.RUNNING)
        found.lease_until = now + _lease(runtime.settings)
        if account is None:
            reason = "The export account was deleted before the export ran."
            _fail_pending(session, found.id, reason)
            transitions.move(session, found, ExportStatus.FAILED, reason=reason)
            return None
        return accounts.app_account(box, account), ExportSettings(**found.settings), found.app


def _push_all(
    runtime: Runtime,
    export_id: uuid.UUID,
    connection: Connection,
    export_settings: ExportSettings,
    box: SecretBox,
) -> None:
    settings = runtime.settings
    pacer = Pacer()
    size = settings.export_batch_size
    after: uuid.UUID | None = None
    with ThreadPoolExecutor(settings.export_concurrency, thread_name_prefix="export") as pool:
        while True:
            batch = _claim(runtime, export_id, after, size, box)
            if not batch:
                return
            after = batch[-1].result_id
            outcomes = list(
                pool.map(
                    lambda w: _push_one(settings, connection, export_settings, pacer, w), batch
                )
            )
            _record(runtime, export_id, outcomes)
            if len(batch) < size:
                return


def _claim(
    runtime: Runtime, export_id: uuid.UUID, after: uuid.UUID | None, size: int, box: SecretBox
) -> list[Work]:
    with runtime.database.transaction(write=False) as session:
        statement = (
            select(ExportResult.id, Mailbox)
            .join(Mailbox, Mailbox.id == ExportResult.mailbox_id)
            .where(ExportResult.job_id == export_id, ExportResult.status == ExportOutcome.PENDING)
        )
        if after is not None:
            statement = statement.where(ExportResult.id > after)
        rows = session.execute(statement.order_by(ExportResult.id).limit(size)).all()
        return [_work(result_id, mailbox, box) for result_id, mailbox in rows]


def _work(result_id: uuid.UUID, mailbox: Mailbox, box: SecretBox) -> Work:
    # Checked again: the mailbox may have changed since the export was accepted.
    if mailbox.status != MailboxStatus.ACTIVE:
        return Work(result_id, None, f"The mailbox is {mailbox.status}, not ACTIVE.")
    if not (mailbox.password_enc and mailbox.smtp_host and mailbox.imap_host):
        return Work(result_id, None, "The mailbox has no SMTP/IMAP credentials.")
    credential = csvfiles.credential(mailbox, box)
    return Work(result_id, credential)


def _push_one(
    settings: Settings,
    connection: Connection,
    export_settings: ExportSettings,
    pacer: Pacer,
    work: Work,
) -> Outcome:
    if work.mailbox is None:
        return Outcome(work.result_id, ExportOutcome.SKIPPED, work.skip)
    steps = settings.export_backoff_seconds or [1.0]
    attempt = 0
    while True:
        pacer.wait()
        try:
            pushed = connection.push(work.mailbox, export_settings)
        except AppError as exc:
            if not exc.retryable or attempt >= settings.export_max_retries:
                return Outcome(work.result_id, ExportOutcome.FAILED, exc.message[:REASON_LIMIT])
            delay = (
                exc.retry_after
                if exc.retry_after is not None
                else steps[min(attempt, len(steps) - 1)]
            )
            pacer.hold(delay)
            attempt += 1
            continue
        except Exception as exc:  # a client bug must not lose the batch's other outcomes
            log.exception("export push failed unexpectedly")
            return Outcome(
                work.result_id, ExportOutcome.FAILED, f"Internal error ({type(exc).__name__})."
            )
        return Outcome(work.result_id, ExportOutcome(pushed.outcome), None, pushed.remote_id)


def _record(runtime: Runtime, export_id: uuid.UUID, outcomes: Sequence[Outcome]) -> None:
    now = clock.now()
    with runtime.database.transaction() as session:
        for outcome in outcomes:
            # Only a PENDING row takes an outcome: a concurrent re-run cannot overwrite one.
            session.execute(
                update(ExportResult)
                .where(
                    ExportResult.id == outcome.result_id,
                    ExportResult.status == ExportOutcome.PENDING,
                )
                .values(
                    status=outcome.status,
                    reason=outcome.reason,
                    remote_id=outcome.remote_id,
                    finished_at=now,
                )
            )
        session.execute(
            update(ExportJob)
            .where(ExportJob.id == export_id)
            .values(lease_until=now + _lease(runtime.settings), updated_at=now)
        )


def _finish(runtime: Runtime, export_id: uuid.UUID, failure: str | None) -> None:
    with runtime.database.transaction() as session:
        found = session.get(ExportJob, export_id, with_for_update=True)
        if found is None or found.status in (ExportStatus.COMPLETED, ExportStatus.FAILED):
            return
        if failure is not None:
            _fail_pending(session, export_id, failure)
        elif counts(session, export_id)["pending"]:
            return  # another run still has some in hand; it finishes the job
        end = ExportStatus.FAILED if failure else ExportStatus.COMPLETED
        transitions.move(session, found, end, reason=failure)


def _fail_pending(session: Session, export_id: uuid.UUID, reason: str) -> None:
    session.execute(
        update(ExportResult)
        .where(ExportResult.job_id == export_id, ExportResult.status == ExportOutcome.PENDING)
        .values(status=ExportOutcome.FAILED, reason=reason, finished_at=clock.now())
    )


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.job_lease_seconds)


@sweeper
def sweep_exports(runtime: Runtime) -> int:
    """Jobs whose worker died (or whose enqueue was lost) are handed out again."""
    now = clock.now()
    with runtime.database.transaction() as session:
        statement = (
            select(ExportJob)
            .where(
                ExportJob.status.in_((ExportStatus.PENDING, ExportStatus.RUNNING)),
                (
                    ExportJob.lease_until.is_(None)
                    & (ExportJob.created_at < now - _lease(runtime.settings))
                )
                | (ExportJob.lease_until < now),
            )
            .limit(SWEEP_CHUNK)
            .with_for_update(skip_locked=True)
        )
        due = session.scalars(statement).all()
        for found in due:
            found.lease_until = now + _lease(runtime.settings)
            enqueue_after_commit(session, RUN, str(found.id))
        return len(due)
