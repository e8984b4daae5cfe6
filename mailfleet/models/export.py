"""Exports to cold-email sequencers: the workspace's accounts there, export jobs and their
per-mailbox results (mailfleet.exports)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.kit import clock
from mailfleet.models.base import Base, RecordMixin, TenantMixin
from mailfleet.models.user import enum_type


class ExportApp(enum.StrEnum):
    INSTANTLY = "INSTANTLY"
    SMARTLEAD = "SMARTLEAD"
    EMAILBISON = "EMAILBISON"
    LEMLIST = "LEMLIST"
    PLUSVIBE = "PLUSVIBE"
    REACHINBOX = "REACHINBOX"


class ExportStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class ExportOutcome(enum.StrEnum):
    """Where one mailbox of a job stands: PENDING until the worker has an answer for it."""

    PENDING = "PENDING"
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"


class ExportAccount(RecordMixin, TenantMixin, Base):
    """A workspace's account at a sequencer; several per app are allowed."""

    __tablename__ = "export_accounts"
    __table_args__ = (Index(None, "workspace_id", "app", "id"),)

    app: Mapped[ExportApp] = mapped_column(enum_type(ExportApp))
    label: Mapped[str] = mapped_column(String(200))
    # Fernet token of a JSON object ({"api_key": ...} or {"email": ..., "password": ...}).
    credentials_enc: Mapped[str] = mapped_column(Text)
    # Self-hosted apps (EmailBison): the customer's own instance.
    instance_url: Mapped[str | None] = mapped_column(String(2048))
    # App-specific ids that are not secret (workspace_id, client_id).
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class ExportJob(RecordMixin, TenantMixin, Base):
    """One export request: which app and account, the settings, and where the worker stands."""

    __tablename__ = "export_jobs"
    __table_args__ = (Index(None, "workspace_id", "id"), Index(None, "status", "lease_until"))

    app: Mapped[ExportApp] = mapped_column(enum_type(ExportApp))
    # SET NULL: deleting an account keeps the history of what was exported with it.
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("export_accounts.id", ondelete="SET NULL")
    )
    status: Mapped[ExportStatus] = mapped_column(
        enum_type(ExportStatus), default=ExportStatus.PENDING
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int] = mapped_column(default=0)
    actor: Mapped[str] = mapped_column(String(200))
    failure_reason: Mapped[str | None] = mapped_column(String(1000))
    # While a worker runs the job it pushes this forward; the sweep hands out a PENDING or
    # RUNNING job again once it has passed (a worker that died mid-way).
    lease_until: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class ExportResult(RecordMixin, TenantMixin, Base):
    """One mailbox in one job. A row that is not SKIPPED or FAILED counts toward the mailbox's
    re-export limit from its created_at."""

    __tablename__ = "export_results"
    __table_args__ = (
        # A mailbox once per job, however often the job is run again.
        UniqueConstraint("job_id", "mailbox_id"),
        Index(None, "job_id", "status"),
        Index(None, "mailbox_id", "created_at"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("export_jobs.id", ondelete="CASCADE"))
    mailbox_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[ExportOutcome] = mapped_column(
        enum_type(ExportOutcome), default=ExportOutcome.PENDING
    )
    # Why it was skipped, or the app's own message when it failed.
    reason: Mapped[str | None] = mapped_column(String(1000))
    # The app's id for the account it holds (Smartlead's numeric id, Instantly's email).
    remote_id: Mapped[str | None] = mapped_column(String(255))
    finished_at: Mapped[datetime | None]
