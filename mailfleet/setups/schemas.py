"""The native quick-setup shapes (`/v1/quick-setups`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from mailfleet.config import MailboxType
from mailfleet.kit.schemas import ResponseSchema, Schema

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class MailboxIn(Schema):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    first_name: Text
    last_name: Text


class QuickSetupCreate(Schema):
    names: list[Any] = Field(min_length=1, max_length=20, examples=[["acme-mail.com"]])
    years: Annotated[int, Field(ge=1, le=10)] = 1
    mailbox_type: MailboxType = MailboxType.GOOGLE
    mailboxes: dict[str, list[MailboxIn]] = Field(
        default_factory=dict,
        description="Per name bought, the mailboxes placed on it once it is ACTIVE.",
    )
    apps: list[str] = Field(
        default_factory=list, max_length=6, description="Export the made mailboxes to these apps."
    )
    export_account_id: uuid.UUID | None = None
    use_wallet: bool = Field(
        default=True,
        description="Pay from the wallet when it holds the total; otherwise (or false) answer a "
        "payment link for what is missing, after whose payment the setup buys by itself.",
    )


class Started(ResponseSchema):
    id: uuid.UUID
    paid: bool = Field(description="Bought now from the wallet; false: `payment_url` first.")
    payment_url: str | None
    total_cents: int
    addon_slots: int = Field(description="Slots bought for mailboxes lacking one (rule R16).")
    addon_cents: int
    currency: str


class DomainProgress(ResponseSchema):
    name: str
    purchase_status: str
    domain_status: str | None
    requested: int
    placed: int
    skipped: str | None


class QuickSetup(ResponseSchema):
    id: uuid.UUID
    status: str = Field(
        examples=["WAITING_FOR_DOMAINS"],
        description="AWAITING_PAYMENT, WAITING_FOR_DOMAINS, WAITING_FOR_MAILBOXES, DONE, FAILED.",
    )
    mailbox_type: str
    total_cents: int
    addon_slots: int
    domains: list[DomainProgress]
    export_ids: list[str]
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None
