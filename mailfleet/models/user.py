from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.models.base import Base, RecordMixin, TenantMixin
from mailfleet.models.enums import InvitationStatus, Role


def enum_type(enum_cls: type) -> Enum:
    # Stored as plain strings: adding a status must not need a type migration on PostgreSQL.
    return Enum(enum_cls, native_enum=False, length=24, validate_strings=True)


class User(RecordMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_operator: Mapped[bool] = mapped_column(default=False)
    # The console's optional second factor: the TOTP secret (encrypted), in use once confirmed.
    totp_secret_enc: Mapped[str | None]
    totp_enabled_at: Mapped[datetime | None]
    # The 30 s step of the last code accepted: a code is good once (RFC 6238 5.2).
    totp_last_step: Mapped[int | None]


class Workspace(RecordMixin, Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    billing_details: Mapped[dict[str, str] | None] = mapped_column(JSON)
    settings: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class Membership(RecordMixin, TenantMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("workspace_id", "user_id"),
        Index(None, "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(enum_type(Role))


class Invitation(RecordMixin, TenantMixin, Base):
    __tablename__ = "invitations"
    __table_args__ = (Index(None, "workspace_id", "status"), Index(None, "email"))

    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    status: Mapped[InvitationStatus] = mapped_column(
        enum_type(InvitationStatus), default=InvitationStatus.PENDING
    )
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]


class ApiKey(RecordMixin, Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index(None, "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Optional pin: a key pinned to a workspace can act on that workspace only.
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
