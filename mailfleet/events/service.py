"""The audit trail: every state transition is recorded with who or what made it and why.

The one way to record an event: `record` (one), `record_many` (one transition applied to many
rows) and `record_all` (a batch of different ones, as the set-based transitions write). Each
checks its type against `events.types.EventType` and writes the same row shape, which the
webhook outbox reads. Inside `batched(session)` all three only collect their rows, and the
block's end writes them in one insert (a set-based step whose callees record per workspace).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from mailfleet.events.types import EventType, declared
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Event


@dataclass(frozen=True)
class NewEvent:
    """One event to record in a batch (`record_all`)."""

    workspace_id: uuid.UUID | None
    type: EventType
    subject_type: str
    subject_id: uuid.UUID | None
    actor: str
    data: dict[str, Any] = field(default_factory=dict)


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
    kind = declared(type)
    if _BATCH in session.info:
        record_all(session, [NewEvent(workspace_id, kind, subject_type, subject_id, actor, data)])
        return
    session.add(
        Event(
            workspace_id=workspace_id,
            type=kind.value,
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
    kind = declared(type)
    record_all(
        session,
        (
            NewEvent(workspace_id, kind, subject_type, subject_id, actor, data)
            for subject_id in subject_ids
        ),
    )


def record_all(session: Session, events: Iterable[NewEvent]) -> None:
    """One set-based insert for a batch of events (any workspaces, types and subjects)."""
    now = clock.now()
    rows = [
        {
            "id": uuid7(),
            "created_at": now,
            "workspace_id": event.workspace_id,
            "type": declared(event.type).value,
            "subject_type": event.subject_type,
            "subject_id": event.subject_id,
            "actor": event.actor,
            "data": event.data,
        }
        for event in events
    ]
    if _BATCH in session.info:
        session.info[_BATCH].extend(rows)
    elif rows:
        session.execute(insert(cast(Table, Event.__table__)), rows)


_BATCH = "mailfleet.events.batch"


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Collect the events recorded in the block and insert them in one statement at its end.

    Only around work with no savepoint inside: rows collected in a savepoint that rolls back
    would still be written. Nested blocks join the outer one."""
    if _BATCH in session.info:
        yield
        return
    session.info[_BATCH] = []
    try:
        yield
    finally:
        rows = session.info.pop(_BATCH)  # an error in the block drops them with it
    if rows:
        session.execute(insert(cast(Table, Event.__table__)), rows)
