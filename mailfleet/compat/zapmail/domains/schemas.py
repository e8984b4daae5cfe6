"""Zapmail's domain shapes (reference 3.4, 5.9) and how Mailfleet's domains fill them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from mailfleet.compat.shapes import CamelIn, CamelOut, Timestamp
from mailfleet.compat.zapmail.envelope import MAX_LIMIT, PageOf
from mailfleet.compat.zapmail.mailboxes.schemas import ListedMailbox, listed
from mailfleet.compat.zapmail.statuses import domain_status
from mailfleet.domains.pages import DomainEntry

Tag = Annotated[str, StringConstraints(max_length=100)]


class Domain(CamelOut):
    id: uuid.UUID
    workspace_id: uuid.UUID
    domain: str = Field(examples=["abc.com"])
    status: str = Field(examples=["ACTIVE"])
    created_at: Timestamp
    updated_at: Timestamp
    forward_to: str | None = Field(description="The web-forward destination, or null.")
    forward_to_added_on_reseller: bool
    dmarc_email: str | None = Field(description="The DMARC rua address, or null.")
    dmarc_email_added_to_reseller: bool
    assigned_mailboxes_count: str = Field(examples=["0"], description="A string, as documented.")
    mailboxes: list[ListedMailbox]
    service_provider: str | None = Field(examples=["GOOGLE"])


class DomainPage(PageOf):
    domains: list[Domain]


class DomainSearch(CamelIn):
    """POST /v2/domains: the filters, and the page (in the body or the query)."""

    status: str | None = Field(default=None, max_length=20, examples=["ACTIVE"])
    contains: str | None = Field(default=None, max_length=200)
    tag_ids: list[Tag] | None = Field(default=None, max_length=100)
    page: int | None = Field(default=None, ge=1, le=1_000_000)
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)


def domain(entry: DomainEntry) -> dict[str, Any]:
    d = entry.domain
    rua = (d.dmarc_rua or "").removeprefix("mailto:") or None
    return {
        "id": d.id,
        "workspaceId": d.workspace_id,
        "domain": d.name,
        "status": domain_status(d.status),
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "forwardTo": d.forwarding_url,
        # Mailfleet hosts the DNS (and the web forward) itself: there is no reseller to wait
        # for, so a destination or address set is in place.
        "forwardToAddedOnReseller": d.forwarding_url is not None,
        "dmarcEmail": rua,
        "dmarcEmailAddedToReseller": rua is not None,
        "assignedMailboxesCount": str(entry.assigned),
        "mailboxes": [listed(m, d.name, None) for m in entry.mailboxes],
        "serviceProvider": d.mailbox_type.value if d.mailbox_type else None,
    }
