"""The seam between the mailbox lifecycle and whoever creates mailboxes at a provider.

A backend is told about new mailboxes (`provision`) and removed ones (`deprovision`). The manual
backend leaves the work to an operator; provider backends (Google, Microsoft, SMTP) come later.
Backends run inside the caller's transaction and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.orm import Session

from mailfleet.models import Mailbox


class MailboxBackend(Protocol):
    name: str

    def provision(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        """Start creating these PENDING mailboxes at the provider."""

    def deprovision(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        """Delete these just-removed mailboxes at the provider."""
