"""Zapmail's domain shapes (reference 3.4, 5.9) and how Mailfleet's domains fill them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field, HttpUrl, StringConstraints, TypeAdapter, field_validator

from mailfleet.compat.shapes import CamelIn, CamelOut, Timestamp
from mailfleet.compat.zapmail.envelope import MAX_LIMIT, PageOf
from mailfleet.compat.zapmail.mailboxes.schemas import ListedMailbox, listed
from mailfleet.compat.zapmail.statuses import domain_status
from mailfleet.domains.pages import DomainEntry
from mailfleet.kit.schemas import Email

Tag = Annotated[str, StringConstraints(max_length=100)]
_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


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
        "forwardTo": forward_to(d.forwarding_url),
        # Mailfleet hosts the DNS (and the web forward) itself: there is no reseller to wait
        # for, so a destination or address set is in place.
        "forwardToAddedOnReseller": d.forwarding_url is not None,
        "dmarcEmail": rua,
        "dmarcEmailAddedToReseller": rua is not None,
        "assignedMailboxesCount": str(entry.assigned),
        "mailboxes": [listed(m, d.name, None) for m in entry.mailboxes],
        "serviceProvider": d.mailbox_type.value if d.mailbox_type else None,
    }


# --- bulk settings (5.9): the domains by id, or picked by the list's filters ----------------

DomainIds = Annotated[list[uuid.UUID], Field(max_length=10_000)]


class Picked(CamelIn):
    """`domainIds`, or filters that pick the domains instead of listing them."""

    domain_ids: DomainIds | None = None
    contains: str | None = Field(default=None, max_length=200)
    status: str | None = Field(default=None, max_length=20)
    tag_ids: list[Tag] | None = Field(default=None, max_length=100)


class DmarcIn(Picked):
    email: Email = Field(examples=["dmarc@example.com"], description="Where aggregate reports go.")


class ForwardingIn(Picked):
    forward_to: str = Field(
        min_length=1,
        max_length=2000,
        examples=["destination.com"],
        description="A domain (https:// is assumed) or a full http(s) URL.",
    )

    @field_validator("forward_to")
    @classmethod
    def _as_url(cls, value: str) -> str:
        text = value.strip()
        if "://" not in text:
            text = f"https://{text}"
        return str(_URL.validate_python(text))


class EmailTargetIn(Picked):
    email: Email = Field(examples=["inbox@example.com"], description="Where the mail goes.")


class ClientIdIn(Picked):
    domain_ids: DomainIds = Field(min_length=1)  # type: ignore[assignment]
    client_id: str = Field(
        min_length=1, max_length=255, examples=["1234-abc.apps.googleusercontent.com"]
    )
    app: str = Field(min_length=1, max_length=40, examples=["INSTANTLY"])


class AutoRenewIn(Picked):
    auto_renew: bool


class RenewalSettingsIn(CamelIn):
    domain_renewal_settings: bool


class RemoveUnusedIn(CamelIn):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)


class DomainTag(CamelOut):
    id: str = Field(examples=["warm"], description="The tag itself: Mailfleet's tags are names.")
    name: str = Field(examples=["warm"])
    domain_count: str = Field(examples=["3"], description="A string, like the other counts.")


def forward_to(url: str | None) -> str | None:
    """Zapmail shows the destination as it is given: a bare domain for `https://<domain>/`."""
    if url is None:
        return None
    return url.removeprefix("https://").removeprefix("http://").removesuffix("/")


# --- connecting a domain (5.9 "Domain connection") -----------------------------------------

DomainNameIn = Annotated[str, StringConstraints(min_length=1, max_length=253)]


class NameServersIn(CamelIn):
    domain_name: DomainNameIn = Field(examples=["yourdomain.com"])
    mask_forwarding: bool = Field(description="Required, as the hosted service requires it.")


class NameServers(CamelOut):
    name_servers: str = Field(
        examples=["ns1.example.net,ns2.example.net"], description="Comma-separated."
    )


class VerifyIn(CamelIn):
    domain_name: DomainNameIn = Field(examples=["yourdomain.com"])


class Propagation(CamelOut):
    domain_name: str
    verified: bool
    name_servers: str = Field(description="The nameservers expected, comma-separated.")
    current_name_servers: list[str] = Field(description="What the parent zone answered.")
    reason: str | None


class ConnectIn(CamelIn):
    """Legacy `{domainName, nameServers}`, or the new `{domainNames: [...]}`."""

    domain_name: DomainNameIn | None = None
    name_servers: str | None = Field(
        default=None, max_length=2000, description="Ignored: Mailfleet assigns the nameservers."
    )
    domain_names: list[DomainNameIn] | None = Field(default=None, min_length=1, max_length=10_000)


class ConnectionMetadata(CamelOut):
    current_name_servers: list[str]
    expected_name_servers: list[str]


class ConnectionRequest(CamelOut):
    id: uuid.UUID
    domain_name: str = Field(examples=["exampledomain.com"])
    user_id: uuid.UUID
    workspace_id: uuid.UUID
    service_provider: str = Field(examples=["CLOUDFLARE"], description="The DNS provider.")
    dns_managed_by: str = Field(examples=["ZAPMAILDNS"])
    status: str = Field(examples=["NS_NOT_CHANGED"])
    metadata: ConnectionMetadata
    next_retry_on: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    deleted_at: Timestamp | None


class Rejected(CamelOut):
    domain_name: str
    code: str
    reason: str


class Connected(CamelOut):
    connection_requests: list[ConnectionRequest]
    rejected: list[Rejected]


class ConnectionPage(PageOf):
    total_count: int
    data: list[ConnectionRequest]


# --- health (5.9 "health score", "Check DNS records") --------------------------------------


class Listing(CamelOut):
    zone: str = Field(examples=["zen.spamhaus.org"])
    listed_at: Timestamp


class HealthScore(CamelOut):
    domain_id: uuid.UUID
    domain: str
    health_score: int = Field(examples=[90], description="0 to 100.")
    band: str = Field(examples=["good"], description="good, fair or poor.")
    listed_on: int = Field(description="How many blacklists list the domain now.")
    listings: list[Listing]
    checked_at: Timestamp | None = Field(description="The last blacklist check.")


class CheckDnsIn(CamelIn):
    domain_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)


class DnsCheck(CamelOut):
    domain_id: uuid.UUID
    domain: str
    checked: bool
    checked_at: Timestamp | None
    drift: bool | None
    reason: str | None
    report: dict[str, Any] | None = Field(description="Mailfleet's health report, as stored.")
