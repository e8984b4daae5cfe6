"""An export job's status: the only place it changes.

PENDING -> RUNNING (a worker starts it; again after a restart) -> COMPLETED or FAILED. Reaching
an end stamps `finished_at`, drops the lease and records `export.completed` with the counts.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailfleet.events import service as audit
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.exports.service import counts
from mailfleet.kit import clock
from mailfleet.models import ExportJob, ExportStatus

S = ExportStatus
MOVES: dict[ExportStatus, frozenset[ExportStatus]] = {
    S.PENDING: frozenset({S.RUNNING, S.FAILED}),
    S.RUNNING: frozenset({S.RUNNING, S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
}
ENDS = frozenset({S.COMPLETED, S.FAILED})


def move(
    session: Session, found: ExportJob, status: ExportStatus, *, reason: str | None = None
) -> None:
    if status not in MOVES[found.status]:
        raise Conflict(
            f"A {found.status.value} export cannot become {status.value}.",
            code="export_status_conflict",
        )
    now = clock.now()
    found.status = status
    if status == S.RUNNING:
        found.started_at = found.started_at or now
        return
    found.failure_reason = reason
    found.finished_at = now
    found.lease_until = None
    _completed_event(session, found)


def _completed_event(session: Session, found: ExportJob) -> None:
    # Counts and ids only: credentials never go into events or webhook payloads.
    audit.record(
        session,
        workspace_id=found.workspace_id,
        type=EventType.EXPORT_COMPLETED,
        subject_type="export",
        subject_id=found.id,
        actor="system",
        app=found.app.value,
        account_id=str(found.account_id) if found.account_id else None,
        status=found.status.value,
        counts=counts(session, found.id),
    )
