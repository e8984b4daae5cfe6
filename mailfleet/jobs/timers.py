"""Work driven by a per-row timer (`next_check_at`): claiming the due rows, and the sweep that
hands them to their job. A claimed row's timer moves on by a lease, so a job lost in between
is handed out again once it runs out; the job itself sets the next timer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.db import enqueue_after_commit
from mailfleet.jobs.queue import Runtime
from mailfleet.kit import clock


def claim_due(
    session: Session,
    model: Any,
    *,
    limit: int,
    lease: timedelta,
    timer: str = "next_check_at",
) -> list[uuid.UUID]:
    """Rows of `model` whose timer (the column named `timer`) is due, oldest first, their
    timers pushed on by `lease`; rows another sweep holds locked are skipped."""
    now = clock.now()
    column = getattr(model, timer)
    ids = list(
        session.scalars(
            select(model.id)
            .where(column.is_not(None), column <= now)
            .order_by(column)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(update(model).where(model.id.in_(ids)).values({timer: now + lease}))
    return ids


def hand_out(
    runtime: Runtime, claim: Callable[[Session, int], list[uuid.UUID]], job: str, chunk: int
) -> int:
    """Claim due rows `chunk` at a time, each chunk's jobs enqueued after its commit."""
    handed_out = 0
    while True:
        with runtime.database.transaction() as session:
            ids = claim(session, chunk)
            for row_id in ids:
                enqueue_after_commit(session, job, str(row_id))
        handed_out += len(ids)
        if len(ids) < chunk:
            return handed_out
