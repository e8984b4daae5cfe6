from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.kit import clock
from mailfleet.models.base import Base, RecordMixin, TenantMixin


class ProviderInstallation(RecordMixin, TenantMixin, Base):
    """A customer's own provider account bound to a workspace (their Cloudflare account, Google
    or Microsoft tenant, sequencer), used there instead of the deployment's default."""

    __tablename__ = "provider_installations"
    __table_args__ = (
        # One account per provider and kind in a workspace: resolution must be unambiguous.
        UniqueConstraint("workspace_id", "kind", "provider"),
    )

    # The provider kind ("dns", "mailbox", ...) and the provider's registered name in it.
    kind: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    # Fernet token of a JSON object of the credentials (API tokens, keys, client secrets).
    credentials_enc: Mapped[str] = mapped_column(Text)
    # Non-secret settings of the account (account ids, tenant ids), shown to its owners.
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
