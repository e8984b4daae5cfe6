"""Mailfleet's statuses as Zapmail names them (pure functions).

Zapmail documents mailbox statuses ACTIVE and INACTIVE only, and domain statuses ACTIVE,
INACTIVE, PENDING, IN_PROGRESS and EXPIRED. Mailfleet's are finer; each maps to the nearest:
a mailbox still being made is IN_PROGRESS, one scheduled for removal still works until the
renewal (ACTIVE), a suspended or removed one is INACTIVE, a failed one FAILED (what Zapmail's
"retry failed" endpoint acts on). A domain waiting in the queue is PENDING, waiting for its
delegation IN_PROGRESS, a failed or removed one INACTIVE, an expired registration EXPIRED.
"""

from __future__ import annotations

from mailfleet.models.enums import DomainStatus, MailboxStatus

MAILBOX = {
    MailboxStatus.PENDING: "IN_PROGRESS",
    MailboxStatus.PROVISIONING: "IN_PROGRESS",
    MailboxStatus.ACTIVE: "ACTIVE",
    MailboxStatus.REMOVAL_SCHEDULED: "ACTIVE",
    MailboxStatus.SUSPENDED: "INACTIVE",
    MailboxStatus.FAILED: "FAILED",
    MailboxStatus.REMOVED: "INACTIVE",
}

DOMAIN = {
    DomainStatus.QUEUED: "PENDING",
    DomainStatus.PENDING_NS: "IN_PROGRESS",
    DomainStatus.ACTIVE: "ACTIVE",
    DomainStatus.FAILED: "INACTIVE",
    DomainStatus.REMOVED: "INACTIVE",
}


def mailbox_status(status: MailboxStatus) -> str:
    return MAILBOX[status]


def domain_status(status: DomainStatus) -> str:
    # A status added later (EXPIRED) is named as it is.
    return DOMAIN.get(status, status.value)


def domain_statuses(zapmail: str) -> list[DomainStatus]:
    """The Mailfleet statuses a Zapmail domain status filter means."""
    wanted = zapmail.strip().upper()
    return [status for status in DomainStatus if domain_status(status) == wanted]
