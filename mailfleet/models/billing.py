"""Billing tables: plans, wallets and their ledger, payments, subscriptions, add-on slots,
invoices and mailboxes scheduled for creation at renewal.

Money is integer cents with a currency everywhere; the ledger is append-only (a trigger refuses
UPDATE on `wallet_entries`, see migration 7e3b5c9d1f20) and a wallet's balance always equals
the sum of its entries.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.kit import clock
from mailfleet.models.base import Base, RecordMixin, TenantMixin
from mailfleet.models.enums import (
    BillingPeriod,
    LedgerKind,
    MailboxType,
    PaymentPurpose,
    PaymentStatus,
    PlanStatus,
    ScheduledMailboxStatus,
    SubscriptionStatus,
)
from mailfleet.models.user import enum_type


class Plan(RecordMixin, Base):
    """One version of a plan. A change makes a new version under the same lookup key; a
    subscription keeps the version (and price) it bought until its next renewal."""

    __tablename__ = "plans"
    __table_args__ = (
        UniqueConstraint("lookup_key", "version"),
        # The current version of each key: the one not yet superseded.
        Index(
            "uq_plans_current_lookup_key",
            "lookup_key",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("addon_price_cents >= 0", name="addon_price_not_negative"),
        CheckConstraint("slots >= 0", name="slots_not_negative"),
    )

    lookup_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(100))
    # STARTER, GROWTH, PRO or an operator's own tier name.
    tier: Mapped[str] = mapped_column(String(40))
    period: Mapped[BillingPeriod] = mapped_column(enum_type(BillingPeriod))
    # The mailbox types its slots can hold (a list of MailboxType values).
    mailbox_types: Mapped[list[str]] = mapped_column(JSON)
    slots: Mapped[int]
    price_cents: Mapped[int]
    addon_price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[PlanStatus] = mapped_column(enum_type(PlanStatus), default=PlanStatus.ACTIVE)
    superseded_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class Wallet(RecordMixin, TenantMixin, Base):
    __tablename__ = "wallets"
    __table_args__ = (
        UniqueConstraint("workspace_id"),
        CheckConstraint("balance_cents >= 0", name="balance_not_negative"),
    )

    currency: Mapped[str] = mapped_column(String(3), default="USD")
    balance_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    auto_recharge_enabled: Mapped[bool] = mapped_column(default=False)
    auto_recharge_threshold_cents: Mapped[int] = mapped_column(default=2000)
    auto_recharge_amount_cents: Mapped[int] = mapped_column(default=5000)
    # The payment provider's customer and saved card (e.g. Stripe cus_... and pm_...).
    payment_customer_id: Mapped[str | None] = mapped_column(String(255))
    default_payment_method_id: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class WalletEntry(RecordMixin, TenantMixin, Base):
    """One movement of money in or out of a wallet. Never updated, never deleted (but with its
    workspace)."""

    __tablename__ = "wallet_entries"
    __table_args__ = (
        # What makes an operation apply once: a payment event, a renewal of one period, an
        # idempotent request. Null for entries that need no such key.
        UniqueConstraint("wallet_id", "dedupe_key"),
        Index(None, "workspace_id", "id"),
        Index(None, "wallet_id", "id"),
        CheckConstraint("balance_after_cents >= 0", name="balance_after_not_negative"),
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
    )

    wallet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wallets.id", ondelete="CASCADE"))
    kind: Mapped[LedgerKind] = mapped_column(enum_type(LedgerKind))
    # Signed: credits positive, debits negative.
    amount_cents: Mapped[int]
    balance_after_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(200))
    # What it paid for or came from: ("subscription", id), ("payment", id), ("invoice", id)...
    reference_type: Mapped[str | None] = mapped_column(String(40))
    reference_id: Mapped[str | None] = mapped_column(String(100))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))


class Payment(RecordMixin, TenantMixin, Base):
    """Money asked of a payment provider: a Checkout Session (top-up or card setup) or an
    off-session PaymentIntent (auto-recharge). The wallet is credited from its outcome only."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "external_id"),
        UniqueConstraint("provider", "idempotency_key"),
        Index(None, "workspace_id", "id"),
        # At most one recharge in flight per wallet (see billing.payments).
        Index(
            "uq_payments_recharge_in_flight",
            "wallet_id",
            unique=True,
            sqlite_where=text("purpose = 'RECHARGE' AND status IN ('OPEN', 'PROCESSING')"),
            postgresql_where=text("purpose = 'RECHARGE' AND status IN ('OPEN', 'PROCESSING')"),
        ),
    )

    wallet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wallets.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[PaymentPurpose] = mapped_column(enum_type(PaymentPurpose))
    status: Mapped[PaymentStatus] = mapped_column(
        enum_type(PaymentStatus), default=PaymentStatus.OPEN
    )
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # cs_... or pi_...; null until the provider answered.
    external_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # The Checkout link, or where the customer completes authentication.
    url: Mapped[str | None] = mapped_column(String(2048))
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(200))
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class PaymentEvent(RecordMixin, Base):
    """A provider event (webhook) processed once: its id is the key."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL")
    )
    # "applied", "ignored" (nothing to do) or "unmatched" (no payment of ours).
    outcome: Mapped[str] = mapped_column(String(20))


class Subscription(RecordMixin, TenantMixin, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("public_id"),
        Index(None, "workspace_id", "status", "id"),
        # The renewal timer: due subscriptions in due order.
        Index(None, "renews_at"),
        CheckConstraint("slots >= 0", name="slots_not_negative"),
    )

    # Stripe-style id shown by compat surfaces ("sub_...").
    public_id: Mapped[str] = mapped_column(String(40))
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"))
    lookup_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[SubscriptionStatus] = mapped_column(
        enum_type(SubscriptionStatus), default=SubscriptionStatus.ACTIVE
    )
    period: Mapped[BillingPeriod] = mapped_column(enum_type(BillingPeriod))
    mailbox_types: Mapped[list[str]] = mapped_column(JSON)
    slots: Mapped[int]
    # Locked at purchase (and at each renewal) from the plan version.
    price_cents: Mapped[int]
    addon_price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime]
    # When the worker should next try to renew: the period end, then retries while past due.
    # Null when nothing is due (cancelled, expired).
    renews_at: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    cancelled_at: Mapped[datetime | None]
    past_due_since: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    payment_failure_message: Mapped[str | None] = mapped_column(String(1000))
    renewal_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # The subscription an upgrade replaced this one with (or this one replaced).
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    # Free text per subscription (InboxedUp's "update subscription notes").
    notes: Mapped[str | None] = mapped_column(String(4000))
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class SubscriptionPeriod(RecordMixin, TenantMixin, Base):
    """One paid period of a subscription: opened once (the key makes a rerun a no-op)."""

    __tablename__ = "subscription_periods"
    __table_args__ = (UniqueConstraint("subscription_id", "period_start"),)

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE")
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    slots: Mapped[int]
    amount_cents: Mapped[int]
    wallet_entry_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("wallet_entries.id", ondelete="SET NULL")
    )
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoices.id", ondelete="SET NULL")
    )


class AddonSlots(RecordMixin, TenantMixin, Base):
    """Extra slots of one type bought on a subscription for its current period; renewed with
    it (at the add-on price, whole period) unless removed."""

    __tablename__ = "addon_slots"
    __table_args__ = (
        Index(None, "subscription_id"),
        Index(None, "workspace_id", "mailbox_type"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE")
    )
    mailbox_type: Mapped[MailboxType] = mapped_column(enum_type(MailboxType))
    quantity: Mapped[int]
    unit_price_cents: Mapped[int]
    # The period they are paid for; a renewal moves both forward.
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    renew: Mapped[bool] = mapped_column(default=True)
    removed_at: Mapped[datetime | None]


class Invoice(RecordMixin, TenantMixin, Base):
    """One per charge (purchase, renewal, add-on, upgrade): lines and totals as charged, and the
    workspace's billing details at that moment."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("number"),
        Index(None, "workspace_id", "id"),
        Index(None, "subscription_id"),
    )

    number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[LedgerKind] = mapped_column(enum_type(LedgerKind))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    wallet_entry_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("wallet_entries.id", ondelete="SET NULL")
    )
    currency: Mapped[str] = mapped_column(String(3))
    # [{description, quantity, unit_amount_cents, amount_cents, period_start, period_end}]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    subtotal_cents: Mapped[int]
    credit_cents: Mapped[int] = mapped_column(default=0)
    total_cents: Mapped[int]
    billing_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(default=clock.now)


class ScheduledMailbox(RecordMixin, TenantMixin, Base):
    """A mailbox to create on a domain at the next renewal (Zapmail's schedule operation)."""

    __tablename__ = "scheduled_mailboxes"
    __table_args__ = (
        Index(None, "workspace_id", "status", "id"),
        Index(None, "subscription_id", "status"),
        Index(None, "domain_id"),
    )

    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    mailbox_type: Mapped[MailboxType] = mapped_column(enum_type(MailboxType))
    username: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[ScheduledMailboxStatus] = mapped_column(
        enum_type(ScheduledMailboxStatus), default=ScheduledMailboxStatus.SCHEDULED
    )
    # The billing date it waits for.
    scheduled_for: Mapped[datetime]
    mailbox_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="SET NULL")
    )
    skip_reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
