from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from mailfleet.kit.schemas import Name, ResponseSchema, Schema, Text
from mailfleet.models import MailboxStatus, MailboxType


class Mailbox(ResponseSchema):
    """A mailbox as customers see it: never any secret."""

    id: uuid.UUID
    address: str
    username: str
    first_name: str
    last_name: str
    type: MailboxType = Field(validation_alias="mailbox_type")
    backend: str
    status: MailboxStatus
    domain_id: uuid.UUID
    order_id: uuid.UUID | None
    failure_reason: str | None
    expires_at: datetime = Field(
        description="Renewal date; a removed mailbox holds its slot until then."
    )
    remove_at_renewal: bool
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    removed_at: datetime | None
    profile_picture_url: str | None


class Credentials(ResponseSchema):
    id: uuid.UUID
    address: str
    password: str
    app_password: str | None
    totp_secret: str | None
    smtp_host: str | None
    smtp_port: int | None
    imap_host: str | None
    imap_port: int | None
    smtp_security: str | None = Field(description='"starttls", "ssl" or "none".')
    imap_security: str | None


class MailboxUpdate(Schema):
    first_name: Name | None = None
    last_name: Name | None = None
    # Checked in the service, which reports invalid_username with the rule.
    username: Text | None = Field(default=None, max_length=320)


class AuthenticatorCode(ResponseSchema):
    code: str = Field(description="RFC 6238: HMAC-SHA1, 6 digits.")
    expires_in: int = Field(description="Seconds until the next code.")
    period: int
