"""The manual backend: an operator fulfils orders through the operator API."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
        self._ask(session, mailboxes, EventType.MAILBOX_DEPROVISION_REQUESTED, actor)

    def suspend(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        # The operator suspends the account by hand (and deletes it after `expires_at`).
        self._ask(
            session,
            mailboxes,
            EventType.MAILBOX_SUSPEND_REQUESTED,
            actor,
            deprovision_at=lambda mailbox: mailbox.expires_at.isoformat(),
        )

    def resume(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        self._ask(session, mailboxes, EventType.MAILBOX_RESUME_REQUESTED, actor)

    def _ask(
        self,
        session: Session,
        mailboxes: Sequence[Mailbox],
        type: EventType,
        actor: str,
        **data: Callable[[Mailbox], str],
    ) -> None:
        """One event per mailbox for the operator (the audit trail is the manual backend's queue
        of work at the provider), with `data` computed per mailbox; one insert."""
        events.record_all(
            session,
            (
                events.NewEvent(
                    mailbox.workspace_id,
                    type,
                    "mailbox",
                    mailbox.id,
                    actor,
                    {"backend": self.name, **{key: value(mailbox) for key, value in data.items()}},
                )
                for mailbox in mailboxes
            ),
        )
