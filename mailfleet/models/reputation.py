"""DNSBL monitoring: each checked subject's state, and the listings the checks found.

A subject is an ACTIVE domain (asked of the domain zones) or one of the SMTP backend's sending
IPs (asked of the IP zones). Sending IPs belong to the deployment: their rows have no workspace.
A listing row is current while `delisted_at` is null; a delisting keeps the row as history.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.models.base import Base, RecordMixin
from mailfleet.models.user import enum_type


class SubjectKind(enum.StrEnum):
    DOMAIN = "DOMAIN"
    IP = "IP"


class ReputationCheck(RecordMixin, Base):
    """When a subject was last asked of the lists and when it is due again (the sweep's timer)."""

    __tablename__ = "reputation_checks"
    __table_args__ = (
        Index(None, "domain_id", unique=True),
        # One row per sending IP (domain rows are unique by domain: a name can come back).
        Index(
            "uq_reputation_checks_ip",
            "subject",
            unique=True,
            sqlite_where=text("domain_id IS NULL"),
            postgresql_where=text("domain_id IS NULL"),
        ),
        Index(None, "next_check_at"),
    )

    kind: Mapped[SubjectKind] = mapped_column(enum_type(SubjectKind))
    # The domain's ASCII name or the IP address as written in settings.
    subject: Mapped[str] = mapped_column(String(253))
    domain_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("domains.id", ondelete="CASCADE")
    )
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    checked_at: Mapped[datetime | None]
    # Due time; pushed a lease ahead while a job holds the subject, an interval ahead after it.
    next_check_at: Mapped[datetime | None]
    # Zones that gave no verdict on the last check: [{"zone", "error"}] (refused, timed out).
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class BlacklistListing(RecordMixin, Base):
    __tablename__ = "blacklist_listings"
    __table_args__ = (
        # One current listing per subject and zone; delisted rows stay as history.
        Index(
            "uq_blacklist_listings_current",
            "check_id",
            "zone",
            unique=True,
            sqlite_where=text("delisted_at IS NULL"),
            postgresql_where=text("delisted_at IS NULL"),
        ),
        Index(None, "domain_id", "listed_at"),
        Index(None, "workspace_id", "delisted_at"),
    )

    check_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reputation_checks.id", ondelete="CASCADE")
    )
    kind: Mapped[SubjectKind] = mapped_column(enum_type(SubjectKind))
    subject: Mapped[str] = mapped_column(String(253))
    domain_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("domains.id", ondelete="CASCADE")
    )
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    zone: Mapped[str] = mapped_column(String(253))
    # The list's answer, e.g. 127.0.1.2 (Spamhaus DBL: spam domain), and its TXT reason.
    return_code: Mapped[str] = mapped_column(String(45))
    reason: Mapped[str | None] = mapped_column(String(1000))
    listed_at: Mapped[datetime]
    delisted_at: Mapped[datetime | None]
