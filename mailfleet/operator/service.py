"""Operator fulfilment: allocations, manual domain status, and the manual mailbox backend."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.events import service as events
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
    allocation = session.scalars(
        select(Allocation)
        .where(Allocation.workspace_id == workspace_id, Allocation.mailbox_type == mailbox_type)
        .with_for_update()
    ).first()
    if allocation is None:
        allocation = Allocation(workspace_id=workspace_id, mailbox_type=mailbox_type, slots=slots)
        session.add(allocation)
    previous = allocation.slots if allocation.id else 0
    allocation.slots = slots
    session.flush()
    events.record(
        session,
        workspace_id=workspace_id,
        type="allocation.changed",
        subject_type="allocation",
        subject_id=allocation.id,
        actor=actor,
        mailbox_type=mailbox_type.value,
        previous=previous,
        slots=slots,
    )
    return allocation
