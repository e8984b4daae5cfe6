"""Slots: how many mailboxes of each type a workspace holds against its allocation (rule 4).

A mailbox holds a slot while it is live, and also after removal until its renewal date: removed
instantly or at renewal, the slot was paid for the period.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from mailfleet.kit import clock
from mailfleet.models import Allocation, Mailbox, MailboxStatus, MailboxType
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES


@dataclass(frozen=True)
class Usage:
    mailbox_type: MailboxType
    allocated: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.allocated - self.used)


def holds_slot(now: datetime) -> ColumnElement[bool]:
    return or_(
        Mailbox.status.in_(DOMAIN_SLOT_STATUSES),
        and_(Mailbox.status == MailboxStatus.REMOVED, Mailbox.expires_at > now),
    )


def usage(session: Session, workspace_id: uuid.UUID) -> dict[MailboxType, Usage]:
    """Allocated, used and remaining slots per type, in two grouped queries."""
    allocated = dict(
        session.execute(
            select(Allocation.mailbox_type, Allocation.slots).where(
                Allocation.workspace_id == workspace_id
            )
        ).all()
    )
    used = dict(
        session.execute(
            select(Mailbox.mailbox_type, func.count())
            .where(Mailbox.workspace_id == workspace_id, holds_slot(clock.now()))
            .group_by(Mailbox.mailbox_type)
        ).all()
    )
    return {t: Usage(t, int(allocated.get(t, 0)), int(used.get(t, 0))) for t in MailboxType}
