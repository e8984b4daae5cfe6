from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from mailfleet.kit.schemas import Name, ResponseSchema, Schema, Text
from mailfleet.mailboxes.schemas import Mailbox
from mailfleet.models import MailboxType, OrderStatus


class MailboxEntry(Schema):
    first_name: Name
    last_name: Name
    # Syntax is checked in the service so the error names the rule (invalid_username).
    username: Text = Field(max_length=320)


class OrderCreate(Schema):
    domain: Text = Field(min_length=1, max_length=253, description="The domain's id or its name.")
    type: MailboxType
    # The exact bound is a setting (max_mailboxes_per_order), enforced in the service.
    mailboxes: list[MailboxEntry] = Field(min_length=1, max_length=10_000)


class Order(ResponseSchema):
    id: uuid.UUID
    domain_id: uuid.UUID
    domain: str = Field(description="The domain's name.")
    type: MailboxType
    status: OrderStatus
    operator_notes: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    mailboxes: list[Mailbox]
