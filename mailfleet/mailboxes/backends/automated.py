"""Backends that provision through a provider (Postfix/Dovecot, Google, Microsoft) in jobs.

Inside the caller's transaction they only schedule: the mailboxes are claimed for a lease and a
job (provisioning, deprovisioning, suspension, reactivation) is enqueued once it commits. The
provider calls happen in the job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from mailfleet.db import enqueue_after_commit
from mailfleet.kit import clock
from mailfleet.models import Mailbox, MailboxStatus

# Automated backends are named after the provider module that does the work (providers/).
AUTOMATED = ("smtp", "google", "microsoft")
PROVISION = "mailboxes.provision"
DEPROVISION = "mailboxes.deprovision"
SYNC_PROFILE = "mailboxes.sync_profile"
SUSPEND = "mailboxes.suspend"
RESUME = "mailboxes.resume"
# Until then the sweep leaves a just-ordered (or just-suspended, just-resumed) mailbox to the
# job enqueued for it.
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
        # A REMOVED mailbox with `next_check_at` set is still at its provider: the job clears
        # it once deleted there, the sweep hands out the deletions whose job was lost, and its
        # installation cannot be unbound until then.
        due = clock.now() + FIRST_LEASE
        for mailbox in mailboxes:
            mailbox.next_check_at = due
        session.flush()
        enqueue_after_commit(session, DEPROVISION, [str(mailbox.id) for mailbox in mailboxes])

    def suspend(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        _at_provider_after_commit(session, SUSPEND, mailboxes)

    def resume(self, session: Session, mailboxes: Sequence[Mailbox], *, actor: str) -> None:
        _at_provider_after_commit(session, RESUME, mailboxes)


def _at_provider_after_commit(session: Session, job: str, mailboxes: Sequence[Mailbox]) -> None:
    """Schedule the provider call of a suspension or reactivation for after the commit.

    A SUSPENDED or ACTIVE mailbox whose `next_check_at` is set has its provider side still to
    do (mailboxes.suspension); the job clears it once done, and the sweep re-enqueues the ones
    whose job was lost once the lease has passed.
    """
    ids = [mailbox.id for mailbox in mailboxes]
    if not ids:
        return
    session.execute(
        update(Mailbox)
        .where(Mailbox.id.in_(ids))
        .values(next_check_at=clock.now() + FIRST_LEASE)
        .execution_options(synchronize_session=False)
    )
    enqueue_after_commit(session, job, [str(mailbox_id) for mailbox_id in ids])


def sync_profile_after_commit(
    session: Session, mailbox: Mailbox, *, old_address: str, photo: bool
) -> None:
    """Send a profile change (names, address, picture) to the provider once it commits.

    Only for automated backends, and only once the account exists: a PENDING mailbox is
    created later with whatever its profile is then.
    """
    if mailbox.backend in AUTOMATED and mailbox.status != MailboxStatus.PENDING:
        enqueue_after_commit(session, SYNC_PROFILE, str(mailbox.id), old_address, photo)
