"""Export jobs: accept a selection, record a result row per mailbox, hand the job to the
worker (exports.tasks) after the commit; read a job, its counts and its results. The caller
commits.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import scoped
from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.exceptions import FieldError
from mailfleet.exports import accounts, limits
from mailfleet.exports.apps import registry
from mailfleet.exports.errors import (
    ExportAccountRequired,
    ExportAppNotSupported,
    ExportLimitReached,
    ExportNotFound,
    InvalidExportAccount,
    NoMailboxSelected,
)
from mailfleet.exports.selection import Candidate, Filter, select_mailboxes
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import (
    ExportAccount,
    ExportApp,
    ExportJob,
    ExportOutcome,
    ExportResult,
    ExportStatus,
    Workspace,
)

RUN = "exports.run"
# Refused mailboxes listed one by one in a 429 problem; the rest are summed up.
LISTED_REFUSALS = 100


@dataclass(frozen=True)
class JobView:
    id: uuid.UUID
    app: ExportApp
    account_id: uuid.UUID | None
    status: ExportStatus
    settings: dict[str, Any]
    total: int
    counts: dict[str, int]
    failure_reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    refused: list[limits.Refusal] = field(default_factory=list)


def create(
    session: Session,
    settings: Settings,
    workspace_id: uuid.UUID,
    *,
    app: ExportApp,
    account_id: uuid.UUID | None,
    mailbox_ids: Sequence[uuid.UUID] | None,
    where: Filter | None,
    exclude_ids: Sequence[uuid.UUID],
    export_settings: dict[str, Any],
    actor: str,
) -> JobView:
    """Accept an export of the selection; mailboxes at the re-export limit are left out and
    listed, and a selection where every exportable mailbox is at the limit is refused (429)."""
    sequencer = registry.sequencer_for(settings, app)
    if sequencer is None:
        raise ExportAppNotSupported(
            f"No API export to {app.value} yet; download its CSV instead.", field="app"
        )
    account = _account(session, workspace_id, app, account_id)
    candidates = select_mailboxes(
        session,
        workspace_id,
        ids=mailbox_ids,
        where=where,
        exclude=exclude_ids,
        sequencer=sequencer,
    )
    if not candidates:
        raise NoMailboxSelected("No mailbox of this workspace matches the selection.")
    # Jobs are numbered per workspace in id order (`exports.numbers`): taking the workspace's
    # row first makes its creates one at a time, so no job gets an id below one committed
    # before it and an answered number never changes (SQLite's write lock does this already).
    session.execute(select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())
    now = clock.now()
    exportable = [c.id for c in candidates if c.skip is None]
    refused = limits.refusals(session, settings, exportable, now)
    if exportable and len(refused) == len(exportable):
        raise _limit_reached(settings, list(refused.values()), now)
    job = ExportJob(
        id=uuid7(),
        workspace_id=workspace_id,
        app=app,
        account_id=account.id,
        settings=export_settings,
        total=len(candidates) - len(refused),
        actor=actor,
        created_at=now,
    )
    session.add(job)
    session.flush()
    _add_results(session, job, [c for c in candidates if c.id not in refused], now)
    enqueue_after_commit(session, RUN, str(job.id))
    return _view(session, job, refused=sorted(refused.values(), key=lambda r: r.mailbox_id))


def _account(
    session: Session, workspace_id: uuid.UUID, app: ExportApp, account_id: uuid.UUID | None
) -> ExportAccount:
    if account_id is not None:
        row = accounts.get_row(session, workspace_id, account_id)
        if row.app != app:
            raise InvalidExportAccount(
                f"Account {account_id} is a {row.app.value} account, not {app.value}.",
                field="account_id",
            )
        return row
    found = accounts.accounts_for(session, workspace_id, app)
    if not found:
        raise ExportAccountRequired(
            f"The workspace has no {app.value} account: add one under /v1/export-accounts.",
            field="account_id",
        )
    if len(found) > 1:
        raise ExportAccountRequired(
            f"The workspace has several {app.value} accounts: name one as account_id.",
            field="account_id",
        )
    return found[0]


def _limit_reached(
    settings: Settings, refused: list[limits.Refusal], now: datetime
) -> ExportLimitReached:
    refused.sort(key=lambda r: (r.available_at, r.mailbox_id))
    first = refused[0].available_at
    errors = [
        FieldError(
            field="mailbox_ids",
            code="export_limit_reached",
            detail=f"{r.mailbox_id} can be exported again at {r.available_at.isoformat()}",
        )
        for r in refused[:LISTED_REFUSALS]
    ]
    more = len(refused) - LISTED_REFUSALS
    return ExportLimitReached(
        f"Every selected mailbox was exported {settings.export_max_per_window} times in the last "
        f"{settings.export_window_days} days; the first frees up at {first.isoformat()}"
        + (f" ({more} more not listed)." if more > 0 else "."),
        errors=errors,
        headers={"Retry-After": str(max(1, math.ceil((first - now).total_seconds())))},
    )


def _add_results(
    session: Session, job: ExportJob, candidates: list[Candidate], now: datetime
) -> None:
    # One set-based insert: a selection can hold 100,000 mailboxes.
    rows = [
        {
            "id": uuid7(),
            "created_at": now,
            "workspace_id": job.workspace_id,
            "job_id": job.id,
            "mailbox_id": c.id,
            "address": c.address,
            "status": ExportOutcome.SKIPPED if c.skip else ExportOutcome.PENDING,
            "reason": c.skip,
            "finished_at": now if c.skip else None,
        }
        for c in candidates
    ]
    for start in range(0, len(rows), 1000):
        session.execute(insert(ExportResult), rows[start : start + 1000])


def get(session: Session, workspace_id: uuid.UUID, export_id: uuid.UUID) -> JobView:
    return _view(session, get_row(session, workspace_id, export_id))


def get_row(session: Session, workspace_id: uuid.UUID, export_id: uuid.UUID) -> ExportJob:
    statement = scoped(ExportJob, workspace_id).where(ExportJob.id == export_id)
    found: ExportJob | None = session.scalars(statement).first()
    if found is None:
        raise ExportNotFound(f"Export {export_id} not found.")
    return found


def list_jobs(
    session: Session, workspace_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[JobView], str | None]:
    rows = session.scalars(paginate(scoped(ExportJob, workspace_id), ExportJob.id, cursor, limit))
    page, next_cursor = split_page(rows.all(), limit, lambda row: row.id)
    return [_view(session, row) for row in page], next_cursor


def list_results(
    session: Session,
    workspace_id: uuid.UUID,
    export_id: uuid.UUID,
    *,
    status: ExportOutcome | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[ExportResult], str | None]:
    job = get_row(session, workspace_id, export_id)
    statement = scoped(ExportResult, workspace_id).where(ExportResult.job_id == job.id)
    if status is not None:
        statement = statement.where(ExportResult.status == status)
    rows = session.scalars(paginate(statement, ExportResult.id, cursor, limit)).all()
    return split_page(rows, limit, lambda row: row.id)


def counts(session: Session, job_id: uuid.UUID) -> dict[str, int]:
    statement = (
        select(ExportResult.status, func.count())
        .where(ExportResult.job_id == job_id)
        .group_by(ExportResult.status)
    )
    found = {outcome.value.lower(): 0 for outcome in ExportOutcome}
    for outcome, number in session.execute(statement):
        found[ExportOutcome(outcome).value.lower()] = int(number)
    return found


def _view(
    session: Session, job: ExportJob, *, refused: list[limits.Refusal] | None = None
) -> JobView:
    return JobView(
        id=job.id,
        app=job.app,
        account_id=job.account_id,
        status=job.status,
        settings=dict(job.settings),
        total=job.total,
        counts=counts(session, job.id),
        failure_reason=job.failure_reason,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        refused=refused or [],
    )
