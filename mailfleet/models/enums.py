import enum

from mailfleet.config import MailboxType

__all__ = [
    "BillingPeriod",
    "DomainSource",
    "DomainStatus",
    "InvitationStatus",
    "LedgerKind",
    "MailboxStatus",
    "MailboxType",
    "OrderStatus",
    "PaymentPurpose",
    "PaymentStatus",
    "PlanStatus",
    "Role",
    "ScheduledMailboxStatus",
    "SubscriptionStatus",
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
    # A purchased domain whose registration ran out without renewal.
    EXPIRED = "EXPIRED"


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


class BillingPeriod(enum.StrEnum):
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    YEARLY = "YEARLY"

    @property
    def months(self) -> int:
        return {"MONTHLY": 1, "QUARTERLY": 3, "YEARLY": 12}[self.value]


class PlanStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    RETIRED = "RETIRED"


class SubscriptionStatus(enum.StrEnum):
    # ACTIVE: paid for the current period (also while cancel_at_period_end is set).
    ACTIVE = "ACTIVE"
    # PAST_DUE: the renewal charge failed; slots kept while the grace period runs.
    PAST_DUE = "PAST_DUE"
    # CANCELLED: ended at a period end by the customer's cancellation.
    CANCELLED = "CANCELLED"
    # EXPIRED: the grace period ran out unpaid, or replaced by an upgrade; no slots.
    EXPIRED = "EXPIRED"


class LedgerKind(enum.StrEnum):
    TOPUP = "TOPUP"
    PURCHASE = "PURCHASE"
    RENEWAL = "RENEWAL"
    ADDON = "ADDON"
    UPGRADE = "UPGRADE"
    PRORATION_CREDIT = "PRORATION_CREDIT"
    REFUND = "REFUND"
    ADJUSTMENT = "ADJUSTMENT"
    DOMAIN_PURCHASE = "DOMAIN_PURCHASE"


class PaymentPurpose(enum.StrEnum):
    TOPUP = "TOPUP"
    # A Checkout Session in setup mode: saves a card for auto-recharge, moves no money.
    SETUP = "SETUP"
    RECHARGE = "RECHARGE"


class PaymentStatus(enum.StrEnum):
    OPEN = "OPEN"
    PROCESSING = "PROCESSING"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class ScheduledMailboxStatus(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    CREATED = "CREATED"
    CANCELLED = "CANCELLED"
    # Not created at the billing date: billing failed, or no slot was free then.
    SKIPPED = "SKIPPED"
