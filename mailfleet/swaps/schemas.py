"""The native domain-swap shapes (`/v1/domain-swaps`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from mailfleet.kit.schemas import ResponseSchema, Schema


class SwapCreate(Schema):
    from_domain_id: uuid.UUID = Field(description="The burned domain whose mailboxes move.")
    to_domain_id: uuid.UUID | None = Field(
        default=None, description="A domain of the workspace with no mailboxes to move them to."
    )
    to_domain: Annotated[str, StringConstraints(strip_whitespace=True, max_length=253)] | None = (
        Field(
            default=None,
            examples=["acme-mail.com"],
            description="Or a name to connect here in the same call (it then follows the usual "
            "QUEUED -> PENDING_NS -> ACTIVE path before the mailboxes are made), or to buy with "
            "`buy`.",
        )
    )
    buy: bool = Field(
        default=False,
        description="Buy `to_domain` in the same call, paid from the wallet as "
        "POST /v1/domain-purchases is; the swap goes on once it is registered.",
    )
    years: Annotated[int, Field(ge=1, le=10)] = Field(
        default=1, description="With `buy`: years to register it for."
    )


class ExportOutcome(ResponseSchema):
    app: str
    account_id: uuid.UUID
    export_id: uuid.UUID | None = Field(default=None, description="The new mailbox's export.")
    error: str | None = Field(default=None, description="Why the export was refused.")
    old_account: str | None = Field(
        default=None,
        examples=["REMOVED"],
        description="The old address's account at the app once the new one is in: REMOVED, "
        "ABSENT (the app held none), KEPT (`old_account_reason`: the new one did not arrive), "
        "NOT_SUPPORTED (the app's API cannot delete: remove it there), FAILED (the app's words).",
    )
    old_account_reason: str | None = None


class SwapItem(ResponseSchema):
    old_mailbox_id: uuid.UUID
    old_address: str
    username: str
    first_name: str
    last_name: str
    new_mailbox_id: uuid.UUID | None
    new_address: str | None
    status: str = Field(
        examples=["SWAPPED"],
        description="PENDING, ORDERED (made on the new domain, old one kept), SWAPPED (new one "
        "ACTIVE, old one removed), FAILED (`reason`; the old one kept).",
    )
    reason: str | None
    exported_to: list[ExportOutcome]


class Swap(ResponseSchema):
    id: uuid.UUID
    status: str = Field(
        examples=["WAITING_FOR_DOMAIN"],
        description="WAITING_FOR_DOMAIN, WAITING_FOR_MAILBOXES, REPLACING_ACCOUNTS, DONE, FAILED.",
    )
    from_domain_id: uuid.UUID
    to_domain_id: uuid.UUID | None = Field(
        description="Null until a name bought in the same call is registered."
    )
    purchase_id: uuid.UUID | None = Field(description="The purchase of a name bought for it.")
    mailbox_type: str
    order_id: uuid.UUID | None
    mailboxes: list[SwapItem] = Field(validation_alias="items")
    export_ids: list[uuid.UUID]
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
