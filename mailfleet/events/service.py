"""The audit trail: every state transition is recorded with who or what made it and why."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Event


def record(
    session: Session,
    *,
    workspace_id: uuid.UUID | None,
    type: str,
    subject_type: str,
    subject_id: uuid.UUID | None,
    actor: str,
    **data: Any,
) -> None:
    session.add(
        Event(
            workspace_id=workspace_id,
            type=type,
            subject_type=subject_type,
            subject_id=subject_id,
            actor=actor,
            data=data,
        )
    )


def record_many(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    type: str,
    subject_type: str,
    subject_ids: Iterable[uuid.UUID],
    actor: str,
    **data: Any,
) -> None:
    """One set-based insert for a transition applied to many rows at once."""
    now = clock.now()
    rows = [
        {
            "id": uuid7(),
            "created_at": now,
            "workspace_id": workspace_id,
            "type": type,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "actor": actor,
            "data": data,
        }
        for subject_id in subject_ids
    ]
    if rows:
        session.execute(insert(cast(Table, Event.__table__)), rows)
