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
from mailfleet.models import Mailbox

PROVISION = "mailboxes.provision"
DEPROVISION = "mailboxes.deprovision"
APPLY_FORWARDING = "mailboxes.apply_forwarding"
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
