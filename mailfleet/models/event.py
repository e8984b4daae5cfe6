from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.models.base import Base, RecordMixin


class Event(RecordMixin, Base):
    """The audit trail: every state transition, who or what made it, and why."""

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "workspace_id", "id"),
        Index(None, "subject_type", "subject_id"),
    )

    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class IdempotencyRecord(RecordMixin, Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"), Index(None, "expires_at"))

    # Hash of the credential, so a key's Idempotency-Keys never collide with another key's.
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(2048))
    request_hash: Mapped[str] = mapped_column(String(64))
    # NULL while the first request is still running.
    status_code: Mapped[int | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A response that carries a secret (Cache-Control: no-store) is kept as a Fernet token.
    body_encrypted: Mapped[bool] = mapped_column(default=False, server_default=false())
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime]
