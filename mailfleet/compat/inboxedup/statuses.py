"""How Mailfleet's statuses read in InboxedUp's words (pure functions).

Domain, order (InboxedUp's "mailbox request") and mailbox type names are the same words in
both APIs; what differs is the casing of `POST /mailboxes`' answer (lower case, as in the
document's example) and the batch status, which InboxedUp derives from its domains.
"""

from __future__ import annotations

from collections.abc import Mapping

from mailfleet.config import MailboxType

BATCH_PENDING = "PENDING"
BATCH_PARTIAL = "PARTIAL"
BATCH_COMPLETED = "COMPLETED"
BATCH_FAILED = "FAILED"
# A batch's counters, in the document's (snake_case) names, by domain status.
COUNTERS = {"QUEUED": "queued", "PENDING_NS": "pending_ns", "ACTIVE": "active", "FAILED": "failed"}
WAITING = frozenset({"QUEUED", "PENDING_NS"})


def batch_status(counts: Mapping[str, int]) -> str:
    """PENDING while no domain is ACTIVE and some still wait; COMPLETED when every domain is
    ACTIVE; FAILED when every one failed; PARTIAL for any mix with an ACTIVE or FAILED one.
    REMOVED domains are left out (a batch of only removed ones has nothing left to do)."""
    active, failed = counts.get("ACTIVE", 0), counts.get("FAILED", 0)
    waiting = sum(counts.get(status, 0) for status in WAITING)
    if waiting and not active and not failed:
        return BATCH_PENDING
    if not waiting and not failed:
        return BATCH_COMPLETED
    if not waiting and not active:
        return BATCH_FAILED
    return BATCH_PARTIAL


def parse_type(text: str) -> MailboxType | None:
    """`microsoft`, `MICROSOFT`, `Smtp_Dedicated`: the type, whatever the case; None if none."""
    try:
        return MailboxType(text.strip().upper())
    except ValueError:
        return None


def type_word(mailbox_type: str) -> str:
    """The type as `POST /mailboxes` answers it: lower case (`microsoft`)."""
    return str(mailbox_type).lower()


def status_word(status: str) -> str:
    """A request's status as `POST /mailboxes` answers it: lower case (`pending`)."""
    return str(status).lower()
