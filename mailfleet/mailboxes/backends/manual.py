"""The manual backend: an operator fulfils orders through the operator API."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.models import Mailbox


class ManualBackend:
    name = "manual"

    def provision(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        # Nothing to do: the mailboxes stay PENDING in the operator queue.
        return None

    def deprovision(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        # The operator deletes the account by hand; the audit trail tells them which.
        by_workspace: dict[uuid.UUID, list[Mailbox]] = defaultdict(list)
        for mailbox in mailboxes:
            by_workspace[mailbox.workspace_id].append(mailbox)
        for workspace_id, group in by_workspace.items():
            events.record_many(
                session,
                workspace_id=workspace_id,
                type=EventType.MAILBOX_DEPROVISION_REQUESTED,
                subject_type="mailbox",
                subject_ids=[m.id for m in group],
                actor=actor,
                backend=self.name,
            )
