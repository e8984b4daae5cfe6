"""Slots: how many mailboxes of each type a workspace holds against its allocation (rule 4).

A mailbox holds a slot while it is live, and also after removal until its renewal date: removed
instantly or at renewal, the slot was paid for the period.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.kit import clock
from mailfleet.models import Allocation, Mailbox, MailboxStatus, MailboxType, SlotCount


@dataclass(frozen=True)
class Usage:
    mailbox_type: MailboxType
    allocated: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.allocated - self.used)


def held_slots(
    session: Session,
    workspace_id: uuid.UUID,
    now: datetime,
    mailbox_type: MailboxType | None = None,
) -> dict[MailboxType, int]:
    """Slots held per type: the live mailboxes (`SlotCount`, one row per type) plus the removed
    ones still holding theirs until renewal (an index range of those alone)."""
    live = select(SlotCount.mailbox_type, SlotCount.live).where(
        SlotCount.workspace_id == workspace_id
    )
    removed = (
        select(Mailbox.mailbox_type, func.count())
        .where(
            Mailbox.workspace_id == workspace_id,
            Mailbox.status == MailboxStatus.REMOVED,
            Mailbox.expires_at > now,
        )
        .group_by(Mailbox.mailbox_type)
    )
    if mailbox_type is not None:
        live = live.where(SlotCount.mailbox_type == mailbox_type)
        removed = removed.where(Mailbox.mailbox_type == mailbox_type)
    held: dict[MailboxType, int] = defaultdict(int)
    for statement in (live, removed):
        for kind, count in session.execute(statement):
            held[kind] += count
    return held


def usage(session: Session, workspace_id: uuid.UUID) -> dict[MailboxType, Usage]:
    """Allocated, used and remaining slots per type, in three small queries."""
    allocated = dict(
        session.execute(
            select(Allocation.mailbox_type, Allocation.slots).where(
                Allocation.workspace_id == workspace_id
            )
        ).all()
    )
    used = held_slots(session, workspace_id, clock.now())
    return {t: Usage(t, int(allocated.get(t, 0)), used[t]) for t in MailboxType}
