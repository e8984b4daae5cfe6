from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from mailfleet.kit.schemas import ResponseSchema, Schema, Tag, Text
from mailfleet.models import (
    ExportApp,
    ExportOutcome,
    ExportStatus,
    MailboxStatus,
    MailboxType,
)

Secret = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_IDS = 100_000


class Credentials(Schema):
    """An API key, or an email and password where the app signs in that way (ReachInbox)."""

    api_key: Secret | None = None
    email: Secret | None = None
    password: Secret | None = None


class AccountConfig(Schema):
    """The app's own ids: Smartlead's client_id; EmailBison's workspace and Google OAuth
    client; Plusvibe's workspace_id."""

    workspace_id: Id | None = None
    client_id: Id | None = None
    client_id_app_name: Id | None = None


class AccountCreate(Schema):
    app: ExportApp
    label: Label
    credentials: Credentials
    instance_url: Annotated[str, StringConstraints(max_length=2048)] | None = Field(
        default=None, description="EmailBison only: the URL of the customer's instance."
    )
    config: AccountConfig = Field(default_factory=AccountConfig)


class AccountUpdate(Schema):
    """Fields left out keep their value; credentials, when given, replace all of them."""

    label: Label | None = None
    credentials: Credentials | None = None
    instance_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    config: AccountConfig | None = None


class Account(ResponseSchema):
    id: uuid.UUID
    app: ExportApp
    label: str
    instance_url: str | None
    config: dict[str, str]
    credential_keys: list[str] = Field(description="Which credentials are set (never values).")
    created_at: datetime
    updated_at: datetime


class AccountCheck(ResponseSchema):
    ok: bool
    message: str = Field(description="The app's own answer.")


class RemoteWorkspace(ResponseSchema):
    id: str
    name: str


class RemoteWorkspaces(ResponseSchema):
    items: list[RemoteWorkspace]


class ExportSettingsIn(Schema):
    daily_limit: int = Field(default=30, ge=1, le=10_000, description="Emails a day.")
    warmup_enabled: bool = False
    warmup_limit: int = Field(default=10, ge=1, le=500, description="Warm-up emails a day.")
    warmup_increment: int = Field(default=1, ge=0, le=100, description="Daily ramp-up.")
    warmup_reply_rate: int = Field(default=30, ge=0, le=100, description="Percent.")
    sending_gap_minutes: int = Field(default=10, ge=0, le=1440)
    tracking_domain: Annotated[str, StringConstraints(max_length=253)] | None = None


class MailboxFilter(Schema):
    """Mailboxes matching every given criterion (tag: the domain's tags)."""

    domain_id: uuid.UUID | None = None
    tag: Tag | None = None
    status: MailboxStatus | None = None
    type: MailboxType | None = None
    text: Annotated[Text, StringConstraints(max_length=320)] | None = Field(
        default=None, description="Part of the address."
    )


class ExportCreate(Schema):
    app: ExportApp
    account_id: uuid.UUID | None = Field(
        default=None, description="Required when the workspace has several accounts for the app."
    )
    mailbox_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_IDS)
    filter: MailboxFilter | None = Field(
        default=None, description="Used when mailbox_ids is left out."
    )
    exclude_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_IDS)
    settings: ExportSettingsIn = Field(default_factory=ExportSettingsIn)


class Refused(ResponseSchema):
    mailbox_id: uuid.UUID
    available_at: datetime = Field(description="When the mailbox may be exported again.")


class ExportCounts(ResponseSchema):
    pending: int
    created: int
    updated: int
    skipped: int
    failed: int


class Export(ResponseSchema):
    id: uuid.UUID
    app: ExportApp
    account_id: uuid.UUID | None
    status: ExportStatus
    settings: dict[str, object]
    total: int
    counts: ExportCounts
    failure_reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ExportCreated(Export):
    refused: list[Refused] = Field(
        description="Mailboxes left out: exported as often as the re-export limit allows."
    )


class ExportResult(ResponseSchema):
    id: uuid.UUID
    mailbox_id: uuid.UUID
    address: str
    status: ExportOutcome
    reason: str | None = Field(description="Why it was skipped, or the app's own error.")
    remote_id: str | None
    finished_at: datetime | None


class MailboxExport(ResponseSchema):
    app: ExportApp
    account_id: uuid.UUID | None
    export_id: uuid.UUID
    outcome: ExportOutcome = Field(description="CREATED in the app, or UPDATED (it was there).")
    remote_id: str | None = Field(description="The mailbox's id in the app, when it gives one.")
    exported_at: datetime | None


class MailboxExports(ResponseSchema):
    items: list[MailboxExport]
