"""Where a mailbox was exported: per app and account, when, and its id in the app. The caller
checks the mailbox is the workspace's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.models import ExportApp, ExportJob, ExportOutcome, ExportResult

# Outcomes that put the mailbox in the app.
EXPORTED = (ExportOutcome.CREATED, ExportOutcome.UPDATED)


def of_mailbox(
    session: Session, mailbox_id: uuid.UUID, *, limit: int = 100
) -> list[dict[str, Any]]:
    """The mailbox's exports that reached their app, newest first."""
    rows: Sequence[Any] = session.execute(
        select(
            ExportJob.app,
            ExportJob.account_id,
            ExportResult.job_id,
            ExportResult.status,
            ExportResult.remote_id,
            ExportResult.finished_at,
        )
        .join(ExportJob, ExportJob.id == ExportResult.job_id)
        .where(ExportResult.mailbox_id == mailbox_id, ExportResult.status.in_(EXPORTED))
        .order_by(ExportResult.finished_at.desc(), ExportResult.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "app": app,
            "account_id": account_id,
            "export_id": job_id,
            "outcome": outcome,
            "remote_id": remote_id,
            "exported_at": finished_at,
        }
        for app, account_id, job_id, outcome, remote_id, finished_at in rows
    ]


def destinations(
    session: Session, mailbox_ids: Sequence[uuid.UUID]
) -> dict[tuple[ExportApp, uuid.UUID], list[uuid.UUID]]:
    """Per app account, which of `mailbox_ids` reached it (a domain swap exports the mailboxes
    made in their place to the same accounts)."""
    rows = session.execute(
        select(ExportJob.app, ExportJob.account_id, ExportResult.mailbox_id)
        .join(ExportJob, ExportJob.id == ExportResult.job_id)
        .where(
            ExportResult.mailbox_id.in_(mailbox_ids),
            ExportResult.status.in_(EXPORTED),
            ExportJob.account_id.is_not(None),
        )
        .distinct()
    ).all()
    found: dict[tuple[ExportApp, uuid.UUID], list[uuid.UUID]] = {}
    for app, account_id, mailbox_id in rows:
        if account_id is not None:  # filtered above; narrows the type
            found.setdefault((app, account_id), []).append(mailbox_id)
    return found


def arrived(
    session: Session, job_ids: Sequence[uuid.UUID], mailbox_ids: Sequence[uuid.UUID]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """(job, mailbox) pairs of `job_ids` whose mailbox reached the app."""
    rows = session.execute(
        select(ExportResult.job_id, ExportResult.mailbox_id).where(
            ExportResult.job_id.in_(job_ids),
            ExportResult.mailbox_id.in_(mailbox_ids),
            ExportResult.status.in_(EXPORTED),
        )
    )
    return {(job_id, mailbox_id) for job_id, mailbox_id in rows}
