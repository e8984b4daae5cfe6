from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from mailfleet.kit.schemas import Name, ResponseSchema, Schema, Text
from mailfleet.models import MailboxType, ScheduledMailboxStatus


class ScheduledEntry(Schema):
    first_name: Name
    last_name: Name
    # Syntax is checked in the service so the error names the rule (invalid_username).
    username: Text = Field(max_length=320)


class ScheduleCreate(Schema):
    mailboxes: list[ScheduledEntry] = Field(min_length=1, max_length=1000)
    mailbox_type: MailboxType | None = Field(
        default=None, description="Defaults to the domain's mailbox type."
    )


class ScheduleUpdate(Schema):
    username: Text | None = Field(default=None, max_length=320)
    first_name: Name | None = None
    last_name: Name | None = None


class ScheduledMailbox(ResponseSchema):
    id: uuid.UUID
    domain_id: uuid.UUID
    subscription_id: uuid.UUID | None
    mailbox_type: MailboxType
    username: str
    first_name: str
    last_name: str
    status: ScheduledMailboxStatus
    scheduled_for: datetime = Field(description="The renewal (billing date) it waits for.")
    mailbox_id: uuid.UUID | None = Field(description="The mailbox made at the renewal.")
    skip_reason: str | None = Field(description="Why it was not created (SKIPPED).")
    created_at: datetime
    updated_at: datetime


class ScheduledList(ResponseSchema):
    items: list[ScheduledMailbox]
