"""Every ORM model, re-exported so domain packages can reference each other's tables."""

from mailfleet.models.base import Base
from mailfleet.models.domain import DnsRecord, Domain, DomainBatch
from mailfleet.models.enums import (
    DomainSource,
    DomainStatus,
    InvitationStatus,
    MailboxStatus,
    MailboxType,
    OrderStatus,
    Role,
)
from mailfleet.models.event import Event, IdempotencyRecord
from mailfleet.models.integration import ProviderInstallation
from mailfleet.models.mailbox import Allocation, Mailbox, MailboxOrder, SlotCount
from mailfleet.models.user import ApiKey, Invitation, Membership, User, Workspace
from mailfleet.models.webhook import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

__all__ = [
    "Allocation",
    "ApiKey",
    "Base",
    "DeliveryStatus",
    "DnsRecord",
    "Domain",
    "DomainBatch",
    "DomainSource",
    "DomainStatus",
    "Event",
    "IdempotencyRecord",
    "Invitation",
    "InvitationStatus",
    "Mailbox",
    "MailboxOrder",
    "MailboxStatus",
    "MailboxType",
    "Membership",
    "OrderStatus",
    "ProviderInstallation",
    "Role",
    "SlotCount",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEventType",
    "Workspace",
]
