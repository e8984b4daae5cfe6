"""Settings, read from the environment with the MAILFLEET_ prefix.

Every default is chosen so that `mailfleet serve` works with no configuration at all:
SQLite and every other piece of state live under one data directory.
"""

from __future__ import annotations

import enum
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class MailboxType(enum.StrEnum):
    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"
    SMTP = "SMTP"
    SMTP_DEDICATED = "SMTP_DEDICATED"


class RecentCreationRule(enum.StrEnum):
    """How the 24-hour rule reads (DESIGN.md, business rule 6)."""

    # The seed's wording: no new mailboxes where some were created in the last 24 hours.
    SEED = "seed"
    # Zapmail's help pages: new mailboxes only within 24 hours of the domain's first creation.
    WINDOW = "window"
    OFF = "off"


DEFAULT_DOMAIN_LIMITS = {
    MailboxType.GOOGLE: 3,
    MailboxType.MICROSOFT: 3,
    MailboxType.SMTP: 5,
    MailboxType.SMTP_DEDICATED: 10,
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILFLEET_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    # Empty means SQLite at <data_dir>/mailfleet.db.
    database_url: str = ""
    database_pool_size: int = 10
    # Requests served at once; the rest wait in the event loop. Kept below the worker threads
    # (40) and the pooled connections (pool size + 40 overflow): see app.ConcurrencyGate.
    max_inflight_requests: int = Field(default=24, ge=1, le=32)
    # Seconds a SQLite writer waits for the lock before giving up.
    sqlite_busy_timeout: float = 30.0

    host: str = "127.0.0.1"
    port: int = 8000

    # Comma-separated Fernet keys, newest first. Empty: a key file in the data directory.
    encryption_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Per API key; 0 disables a window.
    rate_limit_enabled: bool = True
    rate_limit_per_second: int = 20
    rate_limit_per_minute: int = 600

    idempotency_ttl_hours: int = 24
    max_domains_per_batch: int = 10_000
    max_mailboxes_per_order: int = 100
    default_page_size: int = 50
    max_page_size: int = 500

    # Business rules (DESIGN.md section 2); each is a policy with the seed's default.
    domain_limit_google: int = DEFAULT_DOMAIN_LIMITS[MailboxType.GOOGLE]
    domain_limit_microsoft: int = DEFAULT_DOMAIN_LIMITS[MailboxType.MICROSOFT]
    domain_limit_smtp: int = DEFAULT_DOMAIN_LIMITS[MailboxType.SMTP]
    domain_limit_smtp_dedicated: int = DEFAULT_DOMAIN_LIMITS[MailboxType.SMTP_DEDICATED]
    recent_creation_rule: RecentCreationRule = RecentCreationRule.SEED
    recent_creation_hours: int = 24
    microsoft_wait_for_active: bool = True
    # Days between a mailbox's creation and its renewal date.
    renewal_period_days: int = 30
    invitation_ttl_days: int = 7

    # Nameserver pairs handed to customers: "ns1.a.com ns2.a.com" per pair, comma between pairs.
    nameserver_pairs: Annotated[list[tuple[str, str]], NoDecode] = Field(
        default_factory=lambda: [("ns1.mailfleet.local", "ns2.mailfleet.local")]
    )

    # Mailbox backend per type; "manual" queues the mailbox for an operator.
    backend_google: str = "manual"
    backend_microsoft: str = "manual"
    backend_smtp: str = "manual"
    backend_smtp_dedicated: str = "manual"

    # First start with an empty database creates this owner and prints a one-time key.
    bootstrap_owner_email: str = "owner@mailfleet.local"

    log_level: str = "INFO"

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("nameserver_pairs", mode="before")
    @classmethod
    def _split_pairs(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = []
            for chunk in value.split(","):
                names = chunk.split()
                if len(names) != 2:
                    raise ValueError("each nameserver pair needs exactly two host names")
                pairs.append((names[0].lower(), names[1].lower()))
            return pairs
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mailfleet.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def domain_limit(self, mailbox_type: MailboxType) -> int:
        return {
            MailboxType.GOOGLE: self.domain_limit_google,
            MailboxType.MICROSOFT: self.domain_limit_microsoft,
            MailboxType.SMTP: self.domain_limit_smtp,
            MailboxType.SMTP_DEDICATED: self.domain_limit_smtp_dedicated,
        }[mailbox_type]

    def backend_for(self, mailbox_type: MailboxType) -> str:
        return {
            MailboxType.GOOGLE: self.backend_google,
            MailboxType.MICROSOFT: self.backend_microsoft,
            MailboxType.SMTP: self.backend_smtp,
            MailboxType.SMTP_DEDICATED: self.backend_smtp_dedicated,
        }[mailbox_type]
