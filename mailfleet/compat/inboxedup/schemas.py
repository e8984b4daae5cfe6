"""InboxedUp's shapes: camelCase keys (the batch counters snake_case, as documented), prefixed
ids, upper-case enums, ISO-8601 UTC timestamps with milliseconds, `{success, data}` envelopes.

Requests ignore keys they do not know (a client of the hosted service may send more than the
document shows); the keys they do know are checked with JSON's own types.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field, WithJsonSchema

from mailfleet.compat.shapes import CamelIn, CamelOut, Timestamp
from mailfleet.config import MailboxType
from mailfleet.kit.schemas import Name, Text

T = TypeVar("T")


Type = Annotated[
    MailboxType, WithJsonSchema({"type": "string", "enum": [t.value for t in MailboxType]})
]


Out = CamelOut
In = CamelIn


class Envelope(Out, Generic[T]):
    success: bool = True
    data: T


class Pagination(Out):
    limit: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")
    has_more: bool


class ListEnvelope(Out, Generic[T]):
    success: bool = True
    data: list[T]
    pagination: Pagination


class Error(BaseModel):
    """Every error under /inboxedup."""

    class Detail(BaseModel):
        code: str = Field(description="Mailfleet's stable code, as in the native API.")
        message: str
        field: str | None = Field(description="The field at fault, when one is.")

    success: bool = Field(default=False, examples=[False])
    error: Detail


# Account


class Customer(Out):
    id: str
    email: str
    name: str
    created_at: Timestamp


class Allocation(Out):
    type: Type
    allocated: int
    used: int
    remaining: int


class Summary(Out):
    total_domains: int
    active_domains: int
    pending_mailbox_requests: int
    active_api_keys: int


class Account(Out):
    customer: Customer
    allocations: list[Allocation]
    summary: Summary


# Subscriptions


class Subscription(Out):
    id: str = Field(examples=["sub_8f1c2d3e4a5b6c7d8e9f0a1b"])
    lookup_key: str
    types: list[Type]
    slots: int
    status: str = Field(examples=["ACTIVE"])
    period: str = Field(examples=["MONTHLY"])
    price_cents: int
    currency: str
    current_period_start: Timestamp
    current_period_end: Timestamp
    cancel_at_period_end: bool
    notes: str | None
    created_at: Timestamp


class SubscriptionNotes(In):
    notes: Annotated[Text, Field(max_length=4000)] | None = Field(
        description="Free text about the subscription; null clears it."
    )


# Domains


class DomainSubmit(In):
    domains: list[Any] = Field(
        min_length=1,
        max_length=10_000,
        description="Domain names; each is accepted or refused on its own.",
        examples=[["yourdomain.com", "yourotherdomain.com"]],
    )


class SubmitItem(Out):
    domain: str | None
    success: bool
    id: str | None = Field(default=None, examples=["dom_0195f0c2a1b27c3d9e8f001122334455"])
    status: str | None = Field(default=None, examples=["QUEUED"])
    ns1: str | None = None
    ns2: str | None = None
    error: Error.Detail | None = None


class Submitted(Out):
    batch_id: str = Field(examples=["batch_0195f0c2a1b27c3d9e8f001122334455"])
    total: int
    accepted: int
    rejected: int
    results: list[SubmitItem]


class Domain(Out):
    id: str
    domain: str
    status: str = Field(examples=["PENDING_NS"])
    type: Type | None
    ns1: str
    ns2: str
    batch_id: str | None
    created_at: Timestamp
    activated_at: Timestamp | None


class Verification(Out):
    id: str
    domain: str
    status: str
    delegated: bool
    ns1: str
    ns2: str
    message: str = Field(description="What the check found, in words.")


class BatchDomain(Out):
    id: str
    domain: str
    status: str
    created_at: Timestamp


class BatchGroup(Out):
    ns1: str
    ns2: str
    domains: list[BatchDomain]


class BatchStatus(Out):
    batch_id: str
    status: str = Field(examples=["PARTIAL"])
    total: int
    queued: int
    pending_ns: int = Field(alias="pending_ns")
    active: int
    failed: int
    groups: list[BatchGroup]


# Mailboxes


class MailboxEntry(In):
    first_name: Name
    last_name: Name
    # Syntax is checked in the service, so that the error names the rule (invalid_username).
    mailbox_username: Annotated[Text, Field(max_length=320)]


class MailboxRequestCreate(In):
    domain: Annotated[Text, Field(min_length=1, max_length=253)] = Field(
        description="The domain's name (or its dom_ id).", examples=["yourdomain.com"]
    )
    type: Annotated[Text, Field(min_length=1, max_length=32)] = Field(
        description="microsoft, google, smtp or smtp_dedicated, in any case.",
        examples=["microsoft"],
    )
    mailboxes: list[MailboxEntry] = Field(min_length=1, max_length=10_000)


class RequestedMailbox(Out):
    first_name: str
    last_name: str
    mailbox_username: str
    domain_name: str


class MailboxRequestCreated(Out):
    success: bool = True
    request_id: str = Field(examples=["req_abc123"])
    type: str = Field(examples=["microsoft"])
    domain: str
    status: str = Field(examples=["pending"])
    message: str
    mailboxes: list[RequestedMailbox]


class Credentials(Out):
    """Only with `?include=credentials` (a Mailfleet addition)."""

    email: str
    password: str | None
    smtp_host: str | None
    smtp_port: int | None
    imap_host: str | None
    imap_port: int | None
    totp_secret: str | None


class RequestMailbox(RequestedMailbox):
    status: str = Field(examples=["ACTIVE"])
    credentials: Credentials | None = None


class MailboxRequest(Out):
    id: str
    type: Type
    domain: str
    domain_id: str
    domain_status: str
    ns1: str
    ns2: str
    status: str = Field(examples=["COMPLETED"])
    admin_notes: str | None
    created_at: Timestamp
    mailboxes: list[RequestMailbox]
