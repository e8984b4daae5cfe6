"""Every event type Mailfleet records, declared once.

The audit trail, the webhook outbox (`webhooks.outbox.PUBLIC_EVENTS`) and every surface read
these names; `events.service` refuses a type that is not declared here, so a new transition
cannot record a name nobody knows. The public webhook names are `models.WebhookEventType`'s.
"""

from __future__ import annotations

import enum

from mailfleet.models import WebhookEventType


class EventType(enum.StrEnum):
    # Status transitions: one per stateful entity, each public as a webhook event.
    DOMAIN_STATUS_CHANGED = WebhookEventType.DOMAIN_STATUS_CHANGED.value
    MAILBOX_STATUS_CHANGED = WebhookEventType.MAILBOX_STATUS_CHANGED.value
    ORDER_STATUS_CHANGED = WebhookEventType.ORDER_STATUS_CHANGED.value
    SUBSCRIPTION_STATUS_CHANGED = WebhookEventType.SUBSCRIPTION_STATUS_CHANGED.value
    # Money movements and payments, public as webhook events too.
    WALLET_CREDITED = WebhookEventType.WALLET_CREDITED.value
    WALLET_DEBITED = WebhookEventType.WALLET_DEBITED.value
    PAYMENT_SUCCEEDED = WebhookEventType.PAYMENT_SUCCEEDED.value
    PAYMENT_FAILED = WebhookEventType.PAYMENT_FAILED.value
    INVOICE_CREATED = WebhookEventType.INVOICE_CREATED.value
    DOMAIN_PURCHASE_STATUS_CHANGED = WebhookEventType.DOMAIN_PURCHASE_STATUS_CHANGED.value
    EXPORT_COMPLETED = WebhookEventType.EXPORT_COMPLETED.value
    # Blacklist monitoring (mailfleet.reputation): a domain zone listed or delisted the domain.
    DOMAIN_BLACKLISTED = WebhookEventType.DOMAIN_BLACKLISTED.value
    DOMAIN_DELISTED = WebhookEventType.DOMAIN_DELISTED.value

    ALLOCATION_CHANGED = "allocation.changed"
    ADDON_SLOTS_ADDED = "addon_slots.added"
    ADDON_SLOTS_REMOVED = "addon_slots.removed"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    DOMAIN_BATCH_SUBMITTED = "domain_batch.submitted"
    DOMAIN_DNS_DRIFT = "domain.dns_drift"
    DOMAIN_DNS_DRIFT_RESOLVED = "domain.dns_drift_resolved"
    DOMAIN_EXPIRED = "domain.expired"
    DOMAIN_EXPIRING = "domain.expiring"
    DOMAIN_FORWARDING_REQUESTED = "domain.forwarding_requested"
    DOMAIN_RENEWAL_FAILED = "domain.renewal_failed"
    DOMAIN_RENEWED = "domain.renewed"
    DOMAIN_SETTINGS_CHANGED = "domain.settings_changed"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_CREATED = "invitation.created"
    INVITATION_REJECTED = "invitation.rejected"
    INVITATION_REVOKED = "invitation.revoked"
    MAILBOX_DEPROVISION_REQUESTED = "mailbox.deprovision_requested"
    MAILBOX_PROVIDER_RESUMED = "mailbox.provider_resumed"
    MAILBOX_PROVIDER_SUSPENDED = "mailbox.provider_suspended"
    MAILBOX_PROVIDER_UPDATE_FAILED = "mailbox.provider_update_failed"
    MAILBOX_RESUME_REQUESTED = "mailbox.resume_requested"
    MAILBOX_SUSPEND_REQUESTED = "mailbox.suspend_requested"
    MAILBOX_UPDATED = "mailbox.updated"
    MEMBER_JOINED = "member.joined"
    MEMBER_LEFT = "member.left"
    MEMBER_REMOVED = "member.removed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    ORDER_CREATED = "order.created"
    PLAN_CHANGED = "plan.changed"
    PLAN_CREATED = "plan.created"
    PLAN_RETIRED = "plan.retired"
    QUICK_SETUP_STATUS_CHANGED = "quick_setup.status_changed"
    DOMAIN_SWAP_STATUS_CHANGED = "domain_swap.status_changed"
    SUBSCRIPTION_CANCELLATION_REVERTED = "subscription.cancellation_reverted"
    SUBSCRIPTION_CANCELLATION_SCHEDULED = "subscription.cancellation_scheduled"
    SCHEDULED_MAILBOX_CREATED = "scheduled_mailbox.created"
    SCHEDULED_MAILBOX_REMOVED = "scheduled_mailbox.removed"
    SCHEDULED_MAILBOX_SCHEDULED = "scheduled_mailbox.scheduled"
    SCHEDULED_MAILBOX_SKIPPED = "scheduled_mailbox.skipped"
    SCHEDULED_MAILBOX_UPDATED = "scheduled_mailbox.updated"
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_NOTES_UPDATED = "subscription.notes_updated"
    SUBSCRIPTION_RENEWAL_FAILED = "subscription.renewal_failed"
    SUBSCRIPTION_RENEWED = "subscription.renewed"
    SUBSCRIPTION_UPGRADED = "subscription.upgraded"
    WALLET_AUTO_RECHARGE_CHANGED = "wallet.auto_recharge_changed"
    WALLET_PAYMENT_METHOD_REMOVED = "wallet.payment_method_removed"
    WALLET_PAYMENT_METHOD_SAVED = "wallet.payment_method_saved"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_DELETED = "webhook.deleted"
    WEBHOOK_DELIVERY_RESENT = "webhook.delivery_resent"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"
    WEBHOOK_UPDATED = "webhook.updated"
    WORKSPACE_BILLING_UPDATED = "workspace.billing_updated"
    WORKSPACE_CREATED = "workspace.created"
    WORKSPACE_DELETED = "workspace.deleted"
    WORKSPACE_RENAMED = "workspace.renamed"


class UnknownEventType(ValueError):
    """A type not declared in `EventType`: a programming error, never a request's fault."""


def declared(type: str) -> EventType:
    try:
        return EventType(type)
    except ValueError:
        raise UnknownEventType(
            f"event type {type!r} is not declared in mailfleet.events.types.EventType"
        ) from None
