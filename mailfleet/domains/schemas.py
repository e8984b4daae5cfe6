from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, HttpUrl, StringConstraints
from pydantic_core import PydanticCustomError

from mailfleet.config import MAX_DOMAINS_PER_BATCH
from mailfleet.dns.templates import TemplateError, report_addresses
from mailfleet.domains.connections import ConnectionStep
from mailfleet.kit.schemas import MAX_TAGS, Email, ResponseSchema, Schema, Tag
from mailfleet.models import DomainSource, DomainStatus, MailboxType


class DomainSubmit(Schema):
    # Names are checked one by one in the service so that one bad name does not sink the batch.
    # The list's bound is documented here and enforced in the service (settings may lower it),
    # which refuses a longer list whole with its own code, `too_many_domains`.
    domains: list[str] = Field(
        min_length=1,
        json_schema_extra={"maxItems": MAX_DOMAINS_PER_BATCH},
        description=f"Domain names, at most {MAX_DOMAINS_PER_BATCH:,} per request.",
    )
    mailbox_type: MailboxType | None = Field(
        default=None, description="Fix the mailbox type now instead of at the first order."
    )
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)


def _dmarc_rua(value: str) -> str:
    """Report addresses, validated where they enter: published as `rua=mailto:...` (one TXT tag),
    so nothing in them may start another tag or URI."""
    try:
        addresses = report_addresses(value)
    except TemplateError:
        raise PydanticCustomError(
            "invalid_report_address",
            "must be email addresses or mailto: URIs separated by commas (letters, digits and "
            ". _ % + = - before the @, a host name after it; no ; ! or spaces)",
        ) from None
    if not addresses:
        raise PydanticCustomError("invalid_report_address", "give at least one report address")
    return ",".join(addresses)


# `a@x.com`, `mailto:a@x.com`, or several of them separated by commas.
DmarcRua = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=320),
    AfterValidator(_dmarc_rua),
]

# A local part as usernames are written (letters, digits, . _ -; rule 3 is checked in the service).
ForwardFrom = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class DomainUpdate(Schema):
    """Settings of a domain; fields left out keep their value, null clears where allowed."""

    mailbox_type: MailboxType | None = Field(
        default=None, description="Only while no mailbox has been ordered on the domain."
    )
    dmarc_policy: Literal["none", "quarantine", "reject"] | None = None
    dmarc_rua: DmarcRua | None = Field(
        default=None,
        description="Where DMARC aggregate reports go: an address or a mailto: URI, several "
        "separated by commas; null clears it.",
    )
    forwarding_url: HttpUrl | None = Field(
        default=None, description="Redirect the domain and www here; null stops forwarding."
    )
    forwarding_code: Literal[301, 302] | None = None
    catch_all_target: Email | None = Field(
        default=None, description="Mail to unknown addresses of the domain goes here; null: none."
    )
    email_forwards: dict[ForwardFrom, Email] | None = Field(
        default=None,
        max_length=500,
        description="Local part -> address: mail to <local>@domain is also sent there. "
        "Replaces the whole set; {} clears it.",
    )
    auto_renew: bool | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)


class Domain(ResponseSchema):
    id: uuid.UUID
    name: str
    unicode_name: str
    status: DomainStatus
    mailbox_type: MailboxType | None
    nameservers: list[str] = Field(description="Set these at the registrar.")
    dns_provider: str | None
    dmarc_policy: str
    dmarc_rua: str | None
    forwarding_url: str | None
    forwarding_code: int | None
    catch_all_target: str | None
    email_forwards: dict[str, str] | None
    dns_drift: bool = Field(description="The last health check found records changed or gone.")
    health_checked_at: datetime | None
    next_check_at: datetime | None
    batch_id: uuid.UUID | None
    source: DomainSource
    tags: list[str]
    auto_renew: bool
    failure_reason: str | None = Field(description="Why the domain is FAILED; null otherwise.")
    last_check_reason: str | None = Field(
        default=None,
        description="What the last delegation check (or zone creation attempt) found: why a "
        "PENDING_NS domain is still waiting, or the delegation it saw.",
    )
    last_checked_at: datetime | None = Field(
        default=None, description="When the delegation was last checked."
    )
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    removed_at: datetime | None


class AcceptedDomain(ResponseSchema):
    id: uuid.UUID
    name: str
    unicode_name: str
    status: DomainStatus
    nameservers: list[str]


class RejectedDomain(ResponseSchema):
    index: int = Field(description="Position of the item in the submitted list.")
    name: str | None
    code: str
    detail: str


class SubmitResult(ResponseSchema):
    batch_id: uuid.UUID
    accepted: list[AcceptedDomain]
    rejected: list[RejectedDomain]


class NameserverGroup(ResponseSchema):
    nameservers: list[str]
    domains: list[str]


class BatchStatus(ResponseSchema):
    id: uuid.UUID
    created_at: datetime
    submitted_count: int
    accepted_count: int
    rejected_count: int
    status: str = Field(description="PENDING while any domain is QUEUED or PENDING_NS, else DONE.")
    counts: dict[DomainStatus, int]
    nameserver_groups: list[NameserverGroup]


class Batch(ResponseSchema):
    id: uuid.UUID
    created_at: datetime
    submitted_count: int
    accepted_count: int
    rejected_count: int


class ConnectionRequest(ResponseSchema):
    """A domain brought in from elsewhere, on its way to ACTIVE."""

    id: uuid.UUID = Field(description="The domain's id.")
    domain: str
    step: ConnectionStep = Field(
        examples=["NS_NOT_CHANGED"],
        description="PENDING (its zone is being made), CHECKING_NS (not checked yet), "
        "NS_NOT_CHANGED (the parent does not point at the pair yet; retried at "
        "`next_retry_at`), SUCCESS, FAILED (`failure_reason`).",
    )
    domain_status: DomainStatus
    expected_nameservers: list[str]
    current_nameservers: list[str] = Field(
        description="What the parent zone answered at the last check."
    )
    last_check_reason: str | None
    last_checked_at: datetime | None
    next_retry_at: datetime | None
    failure_reason: str | None
    created_at: datetime


class ConnectionRemoval(Schema):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class Removed(ResponseSchema):
    removed: int
