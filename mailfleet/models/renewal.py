"""Renewals of purchased domains at their registrar: one row per domain and registration
period, so a period is paid and renewed once however often the sweep runs."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.models.base import Base, RecordMixin, TenantMixin
from mailfleet.models.user import enum_type


class DomainRenewalStatus(enum.StrEnum):
    # Paid from the wallet; the registrar not called yet, or its answer was lost.
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    # The registrar refused it (refunded) or the wallet was short (nothing debited).
    FAILED = "FAILED"


class DomainRenewal(RecordMixin, TenantMixin, Base):
    __tablename__ = "domain_renewals"
    __table_args__ = (
        Index(None, "status"),
        Index(None, "workspace_id", "id"),
        Index(None, "domain_id"),
    )

    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    registrar: Mapped[str] = mapped_column(String(32))
    years: Mapped[int]
    # What the workspace paid (integer cents of `currency`); 0 when nothing was debited.
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[DomainRenewalStatus] = mapped_column(
        enum_type(DomainRenewalStatus), default=DomainRenewalStatus.PENDING
    )
    # `domain-renewal:{domain_id}:{expiry date}`: one renewal per registration period.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # The expiry being renewed: a registrar expiry later than this means the renewal happened.
    expires_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # While PENDING: when a worker may (re)try it, a lease while one calls the registrar.
    retry_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(String(1000))
    registrar_order_id: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None]
