"""Domains bought through a registrar for a workspace: one row per name and purchase."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.kit import clock
from mailfleet.models.base import Base, RecordMixin, TenantMixin
from mailfleet.models.user import enum_type


class DomainPurchaseStatus(enum.StrEnum):
    # Paid from the wallet; registration waits for the worker (or for its retry time).
    PENDING = "PENDING"
    # Claimed by a worker, which is calling the registrar (a lease: the sweep retries after it).
    REGISTERING = "REGISTERING"
    REGISTERED = "REGISTERED"
    # The registrar refused it; the wallet was refunded.
    FAILED = "FAILED"


LIVE_PURCHASES = ("PENDING", "REGISTERING", "REGISTERED")


class DomainPurchase(RecordMixin, TenantMixin, Base):
    __tablename__ = "domain_purchases"
    __table_args__ = (
        Index(None, "workspace_id", "id"),
        Index(None, "status", "retry_at"),
        # The registrations of an account per day (registrars.accounts: the daily cap).
        Index(None, "registrar_account", "created_at"),
        # A name is bought once: a second purchase of it waits for the first to fail.
        Index(
            "uq_domain_purchases_live_name",
            "name",
            unique=True,
            sqlite_where=text("status IN ('PENDING', 'REGISTERING', 'REGISTERED')"),
            postgresql_where=text("status IN ('PENDING', 'REGISTERING', 'REGISTERED')"),
        ),
    )

    name: Mapped[str] = mapped_column(String(253))
    years: Mapped[int]
    registrar: Mapped[str] = mapped_column(String(32))
    # Which of the registrar's accounts it is bought with (and renewed at): "default" is the
    # deployment's settings, others MAILFLEET_REGISTRAR_ACCOUNTS' names.
    registrar_account: Mapped[str] = mapped_column(
        String(64), default="default", server_default="default"
    )
    status: Mapped[DomainPurchaseStatus] = mapped_column(
        enum_type(DomainPurchaseStatus), default=DomainPurchaseStatus.PENDING
    )
    # Per year, at purchase time: the registrar's and what the workspace paid.
    registrar_price_cents: Mapped[int]
    price_cents: Mapped[int]
    # The renewal price quoted with it, per year (markup included); None when the registrar
    # did not say. Renewals charge it, else `price_cents` (registrars.renewals).
    renewal_price_cents: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3))
    # The nameserver pair set at the registrar; the domain row gets the same pair.
    nameserver_1: Mapped[str] = mapped_column(String(253))
    nameserver_2: Mapped[str] = mapped_column(String(253))
    domain_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("domains.id", ondelete="SET NULL")
    )
    registrar_order_id: Mapped[str | None] = mapped_column(String(200))
    failure_reason: Mapped[str | None] = mapped_column(String(1000))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # When the worker should (re)try: now for a new purchase, later after a transient failure,
    # the lease's end while REGISTERING. Null once REGISTERED or FAILED.
    retry_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    registered_at: Mapped[datetime | None]
    # The registration end the workspace was last told is coming (`domain.expiring`, once per
    # period, for domains that will not renew by themselves: registrars.renewals).
    expiry_notified_for: Mapped[datetime | None]


class RegistrarAccountLock(Base):
    """One row per registrar account purchases were placed on, locked by every purchase while
    it counts the accounts' registrations of the day, so two concurrent purchases never both
    take an account's last place under its daily cap (registrars.accounts)."""

    __tablename__ = "registrar_accounts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
