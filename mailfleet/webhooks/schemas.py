from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyUrl, BeforeValidator, Field, UrlConstraints
from pydantic_core import PydanticCustomError

from mailfleet.kit.schemas import ResponseSchema, Schema
from mailfleet.models import DeliveryStatus, WebhookEventType


def _no_control_characters(value: object) -> object:
    """URL parsing drops tabs and newlines and encodes NUL silently: refuse them instead, so the
    URL stored is the one that was sent."""
    if isinstance(value, str) and any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise PydanticCustomError(
            "control_character", "must not contain control characters (NUL, tab, newline, ...)"
        )
    return value


WebhookUrl = Annotated[
    AnyUrl,
    UrlConstraints(max_length=2048, allowed_schemes=["http", "https"], host_required=True),
    BeforeValidator(_no_control_characters),
]
EventList = Annotated[
    list[WebhookEventType],
    Field(min_length=1, max_length=10, description="Event types to receive (at least one)."),
]
SECRET_DESCRIPTION = (
    "Signing secret, 'whsec_' followed by base64 of 24 to 64 random bytes "
    "(Standard Webhooks). Left out: one is generated."
)


class WebhookCreate(Schema):
    url: WebhookUrl = Field(
        description="Where deliveries are POSTed (http or https). Public addresses only: a host "
        "that is or resolves to a loopback, private, link-local, multicast or metadata address "
        "is refused, here and at each delivery (unless the operator allows them)."
    )
    events: EventList
    secret: str | None = Field(default=None, max_length=200, description=SECRET_DESCRIPTION)
    enabled: bool = True


class WebhookUpdate(Schema):
    """Fields left out keep their value."""

    url: WebhookUrl | None = None
    events: EventList | None = None
    enabled: bool | None = Field(
        default=None,
        description="Disabled endpoints receive nothing; events of the time they were disabled "
        "are not sent once they are enabled again.",
    )


class SecretRotate(Schema):
    secret: str | None = Field(default=None, max_length=200, description=SECRET_DESCRIPTION)


class Webhook(ResponseSchema):
    id: uuid.UUID
    url: str
    events: list[WebhookEventType]
    enabled: bool
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation, deliveries are signed with the old secret too until then."
    )
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(Webhook):
    secret: str = Field(description="The signing secret. Shown only here; store it now.")


class Delivery(ResponseSchema):
    id: uuid.UUID = Field(description="Also the webhook-id header of every attempt.")
    webhook_id: uuid.UUID = Field(validation_alias="endpoint_id")
    event_id: uuid.UUID
    event_type: WebhookEventType
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_response_status: int | None
    last_error: str | None
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime
