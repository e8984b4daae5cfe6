from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from mailfleet.kit.schemas import ResponseSchema, Schema, Text
from mailfleet.mailboxes.totp import UnusableSecret, decode_secret
from mailfleet.models import DomainStatus, MailboxType

Host = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
Port = Annotated[int, Field(ge=1, le=65535)]
Secret = Annotated[Text, StringConstraints(min_length=1, max_length=1000)]
Reason = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


def _base32(value: str) -> str:
    cleaned = "".join(value.split()).upper()
    try:
        # The same decoding the code endpoint uses, so a secret stored is a secret usable.
        decode_secret(cleaned)
    except UnusableSecret as exc:
        raise ValueError("must be a base32 TOTP secret of at least one byte") from exc
    return cleaned


TotpSecret = Annotated[
    str, StringConstraints(min_length=1, max_length=256), AfterValidator(_base32)
]


class AllocationSet(Schema):
    slots: int = Field(ge=0, le=10_000_000)


class Allocation(ResponseSchema):
    workspace_id: uuid.UUID
    type: MailboxType = Field(validation_alias="mailbox_type")
    slots: int
    updated_at: datetime


class DomainStatusSet(Schema):
    status: Literal[DomainStatus.ACTIVE, DomainStatus.FAILED]
    reason: Reason | None = None


class OrderNotes(Schema):
    operator_notes: Annotated[Text, StringConstraints(max_length=4000)] | None


class MailboxComplete(Schema):
    password: Secret
    app_password: Secret | None = None
    totp_secret: TotpSecret | None = None
    smtp_host: Host
    smtp_port: Port
    imap_host: Host
    imap_port: Port
    notes: Annotated[Text, StringConstraints(max_length=4000)] | None = None


class MailboxFail(Schema):
    reason: Reason


class Backlog(ResponseSchema):
    kind: str = Field(examples=["mailboxes"])
    open: int = Field(description="Items under way.")
    due: int = Field(description="Open items whose timer passed: the next sweep hands them out.")
    oldest_due_seconds: int = Field(
        description="How long the oldest due item has waited; far past the sweep interval "
        "means the worker is down or stuck."
    )


class JobHealth(ResponseSchema):
    sweep_interval_seconds: int
    items: list[Backlog]
