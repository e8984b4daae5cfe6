from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.kit import clock
from mailfleet.models.base import Base, RecordMixin, TenantMixin
from mailfleet.models.enums import DomainSource, DomainStatus, MailboxType
from mailfleet.models.user import enum_type


class DomainBatch(RecordMixin, TenantMixin, Base):
    __tablename__ = "domain_batches"
    __table_args__ = (Index(None, "workspace_id", "id"),)

    submitted_count: Mapped[int] = mapped_column(default=0)
    accepted_count: Mapped[int] = mapped_column(default=0)
    rejected_count: Mapped[int] = mapped_column(default=0)


class Domain(RecordMixin, TenantMixin, Base):
    __tablename__ = "domains"
    __table_args__ = (
        # A name is held by at most one workspace at a time; removed domains free it.
        Index(
            "uq_domains_live_name",
            "name",
            unique=True,
            sqlite_where=text("status != 'REMOVED'"),
            postgresql_where=text("status != 'REMOVED'"),
        ),
        Index(None, "workspace_id", "id"),
        Index(None, "workspace_id", "status", "id"),
        Index(None, "batch_id"),
        Index(None, "next_check_at"),
        Index(None, "dns_installation_id"),
        Index(None, "dns_unsent_due_at"),
    )

    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("domain_batches.id", ondelete="SET NULL")
    )
    # ASCII (punycode) form; `unicode_name` is for display.
    name: Mapped[str] = mapped_column(String(253))
    unicode_name: Mapped[str] = mapped_column(String(253))
    status: Mapped[DomainStatus] = mapped_column(
        enum_type(DomainStatus), default=DomainStatus.QUEUED
    )
    mailbox_type: Mapped[MailboxType | None] = mapped_column(enum_type(MailboxType))
    nameserver_1: Mapped[str] = mapped_column(String(253))
    nameserver_2: Mapped[str] = mapped_column(String(253))
    dns_provider: Mapped[str | None] = mapped_column(String(32))
    zone_id: Mapped[str | None] = mapped_column(String(128))
    # The workspace's installation the zone was created at (None: the deployment's account):
    # every later call for the zone goes to that account. An installation in use cannot be
    # deleted (no ON DELETE action: the database refuses, the service says why first).
    dns_installation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("provider_installations.id")
    )
    dkim_selector: Mapped[str | None] = mapped_column(String(63))
    dkim_private_key_enc: Mapped[str | None]
    forwarding_url: Mapped[str | None] = mapped_column(String(2048))
    dmarc_policy: Mapped[str] = mapped_column(String(16), default="none")
    dmarc_rua: Mapped[str | None] = mapped_column(String(320))
    catch_all_target: Mapped[str | None] = mapped_column(String(320))
    # Per-address forwards: local part -> target address.
    email_forwards: Mapped[dict[str, str] | None] = mapped_column(JSON, default=dict)
    auto_renew: Mapped[bool] = mapped_column(default=True)
    # Purchased domains: when the registration ends (set at purchase, moved by each renewal).
    registration_expires_at: Mapped[datetime | None]
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Google OAuth client ids a sequencer signs this domain's mailboxes in with, per app
    # (INSTANTLY, EMAILBISON...): Zapmail's add-client-id.
    google_client_ids: Mapped[dict[str, str] | None] = mapped_column(JSON)
    source: Mapped[DomainSource] = mapped_column(
        enum_type(DomainSource), default=DomainSource.CONNECTED
    )
    # One timer drives the lifecycle: QUEUED -> create the zone, PENDING_NS -> check delegation,
    # ACTIVE -> health check. Jobs push it forward while they hold a domain (a lease), so a lost
    # job is picked up again by the sweep once the lease runs out.
    next_check_at: Mapped[datetime | None]
    check_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    pending_since: Mapped[datetime | None]
    # Last delegation diagnosis and last health check, as shown by the API.
    delegation_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    health_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    health_checked_at: Mapped[datetime | None]
    dns_drift: Mapped[bool] = mapped_column(default=False, server_default=false())
    # SOA serial of the zone, bumped whenever its records change.
    dns_serial: Mapped[int] = mapped_column(default=1, server_default="1")
    # RRsets ([name, type] pairs) changed and committed but not yet confirmed by the provider,
    # and when the sweep sends them again should no send or resend job confirm them first: the
    # intent is stored with the change itself, so a job lost between commit and provider
    # (a memory queue, a crash) is harmless. `dns_unsent_tries` counts the resends refused.
    dns_unsent: Mapped[list[list[str]] | None] = mapped_column(JSON)
    dns_unsent_due_at: Mapped[datetime | None]
    dns_unsent_tries: Mapped[int] = mapped_column(default=0, server_default="0")
    # The mailbox type whose template records are published (None: none yet).
    published_type: Mapped[MailboxType | None] = mapped_column(enum_type(MailboxType))
    # TXT a mailbox provider asks for to prove ownership (google-site-verification=..., MS=...).
    provider_verification: Mapped[str | None] = mapped_column(String(255))
    dkim_public_key: Mapped[str | None] = mapped_column(String(1024))
    forwarding_code: Mapped[int | None]
    # Why the domain FAILED; None in every other status.
    failure_reason: Mapped[str | None] = mapped_column(String(1000))
    # What the last delegation check (or zone creation attempt) found, and when: shown while the
    # domain waits, kept apart from failure_reason so a waiting domain does not look failed.
    last_check_reason: Mapped[str | None] = mapped_column(String(1000))
    last_checked_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    @property
    def nameservers(self) -> list[str]:
        return [self.nameserver_1, self.nameserver_2]


class DnsRecord(RecordMixin, TenantMixin, Base):
    """One record of a hosted zone: the source of truth every DNS provider mirrors.

    `name` is the absolute owner name in ASCII without the trailing dot. `content` is the value
    as a user writes it: a host name for MX/CNAME/NS (no priority, no trailing dot), the whole
    text for TXT (split into 255-byte strings only on the wire).
    """

    __tablename__ = "dns_records"
    __table_args__ = (
        Index(None, "domain_id", "name", "type"),
        Index(None, "name", "type"),
    )

    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(253))
    type: Mapped[str] = mapped_column(String(10))
    content: Mapped[str] = mapped_column(String(4096))
    ttl: Mapped[int] = mapped_column(default=3600)
    priority: Mapped[int | None]
    # Written by Mailfleet from a template; users cannot edit it, only reset the template.
    managed: Mapped[bool] = mapped_column(default=False)
    provider_record_id: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
