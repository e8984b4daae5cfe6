"""The web console's own state: signed-in sessions and one-time password-reset links.

Both keep only a SHA-256 hash of the token the browser (or the reset link) carries, as API keys
do: the tokens carry 256 bits of randomness, so a fast hash is enough.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.kit import clock
from mailfleet.models.base import Base, RecordMixin


class ConsoleSession(RecordMixin, Base):
    __tablename__ = "console_sessions"
    __table_args__ = (Index(None, "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Every form of the session carries it; a POST without it is refused (403).
    csrf_token: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # False until the user's second factor is checked (always True for users without one).
    second_factor_done: Mapped[bool] = mapped_column(default=True)


class PasswordReset(RecordMixin, Base):
    __tablename__ = "password_resets"
    __table_args__ = (Index(None, "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
