"""Mailfleet's statuses as Zapmail names them (pure functions).

Zapmail documents mailbox statuses ACTIVE and INACTIVE only, and domain statuses ACTIVE,
INACTIVE, PENDING, IN_PROGRESS and EXPIRED. Mailfleet's are finer; each maps to the nearest:
a mailbox still being made is IN_PROGRESS, one scheduled for removal still works until the
renewal (ACTIVE), a suspended or removed one is INACTIVE, a failed one FAILED (what Zapmail's
"retry failed" endpoint acts on). A domain waiting in the queue is PENDING, waiting for its
delegation IN_PROGRESS, a failed or removed one INACTIVE, an expired registration EXPIRED.
"""

from __future__ import annotations

from typing import Any

from mailfleet.domains.connections import ConnectionStep, step_of, wanted
from mailfleet.domains.pages import DomainFilter
from mailfleet.exceptions import Unprocessable
from mailfleet.models.enums import DomainSource, DomainStatus, MailboxStatus

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


DOMAIN_FILTER = ("ACTIVE", "INACTIVE", "PENDING", "IN_PROGRESS", "EXPIRED")


def domain_filter(zapmail: str | None) -> list[DomainStatus] | None:
    """A `status` filter of the domain calls: None when absent, else its Mailfleet statuses
    (422 for a status the document does not list)."""
    if not zapmail:
        return None
    if zapmail.strip().upper() not in DOMAIN_FILTER:
        raise Unprocessable(
            f"status must be one of {', '.join(DOMAIN_FILTER)}.",
            code="validation_error",
            field="status",
        )
    return domain_statuses(zapmail)


def domain_statuses(zapmail: str) -> list[DomainStatus]:
    """The Mailfleet statuses a Zapmail domain status filter means."""
    wanted = zapmail.strip().upper()
    return [status for status in DomainStatus if domain_status(status) == wanted]


# Connection requests (reference 3.5): a connected domain on its way to ACTIVE. The document's
# enum is longer than Mailfleet's steps; its other values are accepted as filters and match none.
CONNECTION_STATUSES = (
    "PENDING",
    "CHECKING_IF_DOMAIN_IS_REGISTERED",
    "DOMAIN_NOT_REGISTERED",
    "DOMAIN_ALREADY_REGISTERED",
    "CHECKING_EXISTING_WORKSPACE_STATUS",
    "WORKSPACE_ALREADY_EXISTS",
    "CHECKING_NS_IN_WHOIS",
    "NS_NOT_CHANGED",
    "NS_VERIFIED",
    "CREATING_ZONE",
    "SUCCESS",
    "FAILED",
    "CHECKING_CLOUDFLARE_PERMISSIONS",
    "PERMISSION_REQUIRED",
    "ENABLE_DNS_SHIELD",
)
# The Zapmail names of Mailfleet's steps (domains.connections); the rest match no request.
ZAPMAIL_STEPS = {
    ConnectionStep.PENDING: "PENDING",
    ConnectionStep.CHECKING_NS: "CHECKING_NS_IN_WHOIS",
    ConnectionStep.NS_NOT_CHANGED: "NS_NOT_CHANGED",
    ConnectionStep.SUCCESS: "SUCCESS",
    ConnectionStep.FAILED: "FAILED",
}
STEPS_BY_NAME = {name: step for step, name in ZAPMAIL_STEPS.items()}


def connection_status(domain: Any) -> str:
    return ZAPMAIL_STEPS[step_of(domain)]


def connection_filter(zapmail: str | None) -> DomainFilter:
    """The connected domains a connection-request status filter picks."""
    if not zapmail:
        return wanted(None)
    name = zapmail.strip().upper()
    if name not in CONNECTION_STATUSES:
        raise Unprocessable(
            f"status must be one of {', '.join(CONNECTION_STATUSES)}.",
            code="validation_error",
            field="status",
        )
    step = STEPS_BY_NAME.get(name)
    if step is None:
        return DomainFilter(statuses=[], source=DomainSource.CONNECTED)
    return wanted(step)
