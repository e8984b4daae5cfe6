"""Backends that provision through a provider (Postfix/Dovecot, Google, Microsoft) in jobs.

Inside the order's transaction they only schedule: the mailboxes are claimed for a lease and a
provisioning job is enqueued once the order commits. The provider calls happen in the job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from mailfleet.db import enqueue_after_commit
from mailfleet.kit import clock
from mailfleet.models import Mailbox, MailboxStatus

# Automated backends are named after the provider module that does the work (providers/).
AUTOMATED = ("smtp", "google", "microsoft")
PROVISION = "mailboxes.provision"
DEPROVISION = "mailboxes.deprovision"
SYNC_PROFILE = "mailboxes.sync_profile"
# Until then the sweep leaves a just-ordered mailbox to the job enqueued for it.
FIRST_LEASE = timedelta(minutes=5)


class AutomatedBackend:
    def __init__(self, name: str) -> None:
        self.name = name

    def provision(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        due = clock.now() + FIRST_LEASE
        for mailbox in mailboxes:
            mailbox.next_check_at = due
        session.flush()
        enqueue_after_commit(session, PROVISION, [str(mailbox.id) for mailbox in mailboxes])

    def deprovision(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        enqueue_after_commit(session, DEPROVISION, [str(mailbox.id) for mailbox in mailboxes])


def sync_profile_after_commit(
    session: Session, mailbox: Mailbox, *, old_address: str, photo: bool
) -> None:
    """Send a profile change (names, address, picture) to the provider once it commits.

    Only for automated backends, and only once the account exists: a PENDING mailbox is
    created later with whatever its profile is then.
    """
    if mailbox.backend in AUTOMATED and mailbox.status != MailboxStatus.PENDING:
        enqueue_after_commit(session, SYNC_PROFILE, str(mailbox.id), old_address, photo)
