"""Every ORM model, re-exported so domain packages can reference each other's tables."""

from mailfleet.models.base import Base
from mailfleet.models.billing import (
    AddonSlots,
    Invoice,
    Payment,
    PaymentEvent,
    Plan,
    ScheduledMailbox,
    Subscription,
    SubscriptionPeriod,
    Wallet,
    WalletEntry,
)
from mailfleet.models.console import ConsoleSession, PasswordReset
from mailfleet.models.domain import DnsRecord, Domain, DomainBatch
from mailfleet.models.enums import (
    BillingPeriod,
    DomainSource,
    DomainStatus,
    InvitationStatus,
    LedgerKind,
    MailboxStatus,
    MailboxType,
    OrderStatus,
    PaymentPurpose,
    PaymentStatus,
    PlanStatus,
    Role,
    ScheduledMailboxStatus,
    SubscriptionStatus,
)
from mailfleet.models.event import Event, IdempotencyRecord
from mailfleet.models.export import (
    ExportAccount,
    ExportApp,
    ExportJob,
    ExportOutcome,
    ExportResult,
    ExportStatus,
)
from mailfleet.models.integration import ProviderInstallation
from mailfleet.models.mailbox import Allocation, Mailbox, MailboxOrder, SlotCount
from mailfleet.models.registrar import DomainPurchase, DomainPurchaseStatus
from mailfleet.models.renewal import DomainRenewal, DomainRenewalStatus
from mailfleet.models.reputation import BlacklistListing, ReputationCheck, SubjectKind
from mailfleet.models.setup import QuickSetup, QuickSetupStatus
from mailfleet.models.shared import RateLimitCounter, SharedCounter
from mailfleet.models.swap import DomainSwap, DomainSwapStatus
from mailfleet.models.user import ApiKey, Invitation, Membership, User, Workspace
from mailfleet.models.webhook import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

__all__ = [
    "AddonSlots",
    "Allocation",
    "ApiKey",
    "Base",
    "BillingPeriod",
    "BlacklistListing",
    "ConsoleSession",
    "DeliveryStatus",
    "DnsRecord",
    "DomainPurchase",
    "DomainPurchaseStatus",
    "DomainRenewal",
    "DomainRenewalStatus",
    "QuickSetup",
    "QuickSetupStatus",
    "DomainSwap",
    "DomainSwapStatus",
    "Domain",
    "DomainBatch",
    "DomainSource",
    "DomainStatus",
    "Event",
    "ExportAccount",
    "ExportApp",
    "ExportJob",
    "ExportOutcome",
    "ExportResult",
    "ExportStatus",
    "IdempotencyRecord",
    "Invitation",
    "InvitationStatus",
    "Invoice",
    "LedgerKind",
    "Mailbox",
    "MailboxOrder",
    "MailboxStatus",
    "MailboxType",
    "Membership",
    "OrderStatus",
    "Payment",
    "PaymentEvent",
    "PaymentPurpose",
    "PaymentStatus",
    "Plan",
    "PlanStatus",
    "ProviderInstallation",
    "PasswordReset",
    "ReputationCheck",
    "RateLimitCounter",
    "Role",
    "ScheduledMailbox",
    "ScheduledMailboxStatus",
    "SharedCounter",
    "SlotCount",
    "SubjectKind",
    "Subscription",
    "SubscriptionPeriod",
    "SubscriptionStatus",
    "User",
    "Wallet",
    "WalletEntry",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEventType",
    "Workspace",
]
