import enum

from mailfleet.config import MailboxType

__all__ = [
    "DomainSource",
    "DomainStatus",
    "InvitationStatus",
    "MailboxStatus",
    "MailboxType",
    "OrderStatus",
    "Role",
]


class Role(enum.StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    EDITOR = "EDITOR"
    VIEWER = "VIEWER"

    @property
    def rank(self) -> int:
        return {"VIEWER": 0, "EDITOR": 1, "ADMIN": 2, "OWNER": 3}[self.value]

    def at_least(self, other: "Role") -> bool:
        return self.rank >= other.rank


class InvitationStatus(enum.StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    REVOKED = "REVOKED"


class DomainStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    PENDING_NS = "PENDING_NS"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    REMOVED = "REMOVED"


class DomainSource(enum.StrEnum):
    CONNECTED = "CONNECTED"
    PURCHASED = "PURCHASED"


class OrderStatus(enum.StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PARTIAL = "PARTIAL"


class MailboxStatus(enum.StrEnum):
    PENDING = "PENDING"
    PROVISIONING = "PROVISIONING"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    SUSPENDED = "SUSPENDED"
    REMOVAL_SCHEDULED = "REMOVAL_SCHEDULED"
    REMOVED = "REMOVED"


# Mailboxes that occupy one of their domain's per-type places (business rule 2).
DOMAIN_SLOT_STATUSES = (
    MailboxStatus.PENDING,
    MailboxStatus.PROVISIONING,
    MailboxStatus.ACTIVE,
    MailboxStatus.SUSPENDED,
    MailboxStatus.REMOVAL_SCHEDULED,
)
