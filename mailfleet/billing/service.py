"""Allocations: how many mailboxes of each type a workspace may hold. The caller commits."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.db import insert_ignoring_duplicates
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import NotFound, Unprocessable
from mailfleet.models import Allocation, MailboxType, Workspace


def set_allocation(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    mailbox_type: MailboxType,
    slots: int,
    actor: str,
) -> Allocation:
    if slots < 0:
        raise Unprocessable("Slots cannot be negative.", code="invalid_slots", field="slots")
    if session.get(Workspace, workspace_id) is None:
        raise NotFound(f"Workspace {workspace_id} not found.", code="workspace_not_found")
    # Two operators may set a workspace's first allocation of a type at once: whoever inserts
    # second finds the row there and updates it under the lock, instead of breaking the key.
    insert_ignoring_duplicates(
        session,
        Allocation,
        [{"workspace_id": workspace_id, "mailbox_type": mailbox_type, "slots": 0}],
        unique=["workspace_id", "mailbox_type"],
    )
    allocation = session.scalars(
        select(Allocation)
        .where(Allocation.workspace_id == workspace_id, Allocation.mailbox_type == mailbox_type)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    previous = allocation.slots
    allocation.slots = slots
    session.flush()
    events.record(
        session,
        workspace_id=workspace_id,
        type=EventType.ALLOCATION_CHANGED,
        subject_type="allocation",
        subject_id=allocation.id,
        actor=actor,
        mailbox_type=mailbox_type.value,
        previous=previous,
        slots=slots,
    )
    return allocation
