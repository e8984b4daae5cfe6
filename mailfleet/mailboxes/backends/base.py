"""The seam between the mailbox lifecycle and whoever creates mailboxes at a provider.

A backend is told about new mailboxes (`provision`), removed ones (`deprovision`) and suspended
or reactivated ones (`suspend`, `resume`). The manual backend leaves the work to an operator;
the automated ones (Google, Microsoft, SMTP) schedule a job that calls the provider.
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

    def suspend(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        """Stop the logins of these just-SUSPENDED mailboxes at the provider (after commit)."""

    def resume(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        """Let these mailboxes, ACTIVE again after a suspension, log in again (after commit)."""
