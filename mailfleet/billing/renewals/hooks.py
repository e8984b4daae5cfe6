"""What a renewal asks of the mailbox side, through a hook the higher layer registers.

Billing sits below mailboxes and orders in the package order (tests/test_import_order.py: the
quota rule reads billing.slots), yet a renewal removes mailboxes, suspends them and creates
the scheduled ones through an order. So billing states what it needs here (`MailboxSide`) and
`mailfleet.orders.renewals` registers the implementation, loaded wherever jobs run
(`jobs.queue.HOOK_MODULES`), the way orders follow their mailboxes' moves.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.exceptions import MailfleetError
from mailfleet.models import MailboxType


@dataclass(frozen=True)
class NewMailbox:
    username: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class NewOrder:
    """Mailboxes of one type to order on one domain of a workspace."""

    workspace_id: uuid.UUID
    domain_id: uuid.UUID
    mailbox_type: MailboxType
    mailboxes: Sequence[NewMailbox]


class MailboxSide(Protocol):
    def check_usernames(
        self, session: Session, domain_id: uuid.UUID, usernames: Sequence[str]
    ) -> list[str]:
        """The usernames normalised under the order rules (syntax, duplicates, free on the
        domain); raises the rules' errors."""
        ...

    def remove_scheduled(
        self,
        session: Session,
        workspace_ids: Sequence[uuid.UUID],
        types: Sequence[MailboxType],
        now: datetime,
        *,
        actor: str,
    ) -> int:
        """Apply the workspaces' removals scheduled at renewal (REMOVAL_SCHEDULED -> REMOVED,
        deprovisioned), set-based."""
        ...

    def create_many(
        self, session: Session, settings: Settings, orders: Sequence[NewOrder], *, actor: str
    ) -> list[list[uuid.UUID] | MailfleetError]:
        """Order each through the orders service (one batch); per order, its mailboxes' ids
        in the given order, or the error of the order rule that refused it (nothing of that
        order is created then)."""
        ...

    def suspend(
        self,
        session: Session,
        mailbox_ids: Sequence[uuid.UUID],
        *,
        until: datetime,
        actor: str,
        reason: str,
    ) -> list[uuid.UUID]:
        """ACTIVE (or removal-scheduled) -> SUSPENDED, deprovisioned once `until` passes."""
        ...

    def deprovision(
        self, session: Session, mailbox_ids: Sequence[uuid.UUID], *, actor: str
    ) -> list[uuid.UUID]:
        """SUSPENDED -> REMOVED and deleted at the provider (the existing deprovision path)."""
        ...


_registered: list[MailboxSide] = []


def register(side: MailboxSide) -> MailboxSide:
    _registered[:] = [side]
    return side


def mailbox_side() -> MailboxSide:
    if not _registered:
        # Loud: a renewal that silently skipped its mailboxes would leave slots wrong forever.
        raise RuntimeError(
            "mailfleet.orders.renewals is not loaded: renewals cannot touch mailboxes"
        )
    return _registered[0]
