from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.models.base import Base


class SharedCounter(Base):
    """A number every process reads and bumps: the database flavour of kit.shared.Counter
    (MAILFLEET_SHARED_STATE=database), e.g. the auth cache's invalidation generation."""

    __tablename__ = "shared_counters"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class RateLimitCounter(Base):
    """Requests counted in one fixed window of one rate-limit key, shared by every process."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_seconds: Mapped[int] = mapped_column(primary_key=True)
    window_index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    # When the window is over and the row may go (a periodic delete, auth.shared_db).
    expires_at: Mapped[datetime] = mapped_column(index=True)
