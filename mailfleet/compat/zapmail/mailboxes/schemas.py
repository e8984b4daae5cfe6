"""Zapmail's mailbox shapes (reference 3.6, 5.5) and how Mailfleet's mailboxes fill them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, RootModel, StringConstraints

from mailfleet.compat.shapes import CamelIn, CamelOut, Timestamp
from mailfleet.compat.zapmail.envelope import PageOf
from mailfleet.compat.zapmail.statuses import domain_status, mailbox_status
from mailfleet.mailboxes.grouped import GroupedPage
from mailfleet.mailboxes.service import Credentials
from mailfleet.models.enums import MailboxType

Short = Annotated[str, StringConstraints(max_length=100)]
Username = Annotated[str, StringConstraints(min_length=1, max_length=64)]
DomainName = Annotated[str, StringConstraints(max_length=253)]


class ListedMailbox(CamelOut):
    id: uuid.UUID
    username: str = Field(examples=["john.doe"])
    first_name: str
    last_name: str
    status: str = Field(examples=["ACTIVE"])
    profile_picture: str | None
    domain: str = Field(examples=["example1.com"])
    app_password: str | None = Field(
        description="The password a sequencer logs in with (Google's app password where the "
        "mailbox has one); null for a VIEWER and before the mailbox is ACTIVE."
    )
    domain_id: uuid.UUID
    assigned_on: Timestamp
    expire_on: Timestamp
    service_provider: str


class ListedDomain(CamelOut):
    id: uuid.UUID
    domain: str
    status: str
    mailboxes: list[ListedMailbox]


class MailboxPage(PageOf):
    purchased_mailboxes: int
    total_assigned_mailboxes: int
    total_active_mailboxes: int
    available_mailboxes: int
    domains: list[ListedDomain]


class _MailboxFields(CamelOut):
    id: uuid.UUID
    username: str
    first_name: str
    last_name: str
    status: str
    profile_picture: str | None
    domain: str
    domain_id: uuid.UUID
    assigned_on: Timestamp
    expire_on: Timestamp
    created_at: Timestamp


class MailboxDetails(_MailboxFields):
    app_password: str | None
    secret: str | None = Field(description="The TOTP seed, as the authenticator app takes it.")
    service_provider: str


class MailboxDetailsV1(_MailboxFields):
    """v1 leaves out the app password and the TOTP secret."""

    service_provider: str


class OneMailbox(CamelOut):
    mailbox: MailboxDetails


class OneMailboxV1(CamelOut):
    mailbox: MailboxDetailsV1


class NewMailbox(CamelIn):
    first_name: Short
    last_name: Short
    mailbox_username: Username
    domain_name: DomainName


class Assignment(RootModel[dict[uuid.UUID, Annotated[list[NewMailbox], Field(min_length=1)]]]):
    """Keyed by domain id; each value a non-empty list of mailboxes for that domain."""


class MailboxIds(CamelIn):
    mailbox_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10_000)
    remove: bool


class RemovalQueued(CamelOut):
    total_mailboxes_queued: int


class AuthenticatorCode(CamelOut):
    code: str = Field(examples=["492039"])
    expires_in: int = Field(examples=[17], description="Seconds before the code changes.")


class DomainIds(CamelIn):
    domain_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)


class Plain(CamelOut):
    """`{"message", "data": null}` with no `status` (scheduled removal, as documented)."""

    message: str
    data: None = None


def _login(login: Credentials | None) -> str | None:
    if login is None:
        return None
    return login.app_password or login.password


def provider(mailbox_type: MailboxType) -> str:
    return mailbox_type.value


def listed(mailbox: Any, domain: str, login: Credentials | None) -> dict[str, Any]:
    return {
        "id": mailbox.id,
        "username": mailbox.username,
        "firstName": mailbox.first_name,
        "lastName": mailbox.last_name,
        "status": mailbox_status(mailbox.status),
        "profilePicture": mailbox.profile_picture_url,
        "domain": domain,
        "appPassword": _login(login),
        "domainId": mailbox.domain_id,
        "assignedOn": _assigned_on(mailbox),
        "expireOn": mailbox.expires_at,
        "serviceProvider": provider(mailbox.mailbox_type),
    }


def _assigned_on(mailbox: Any) -> datetime:
    assigned: datetime = mailbox.created_at
    return assigned


def page(
    grouped: GroupedPage,
    logins: dict[uuid.UUID, Credentials],
    counters: dict[str, int],
) -> dict[str, Any]:
    return {
        **counters,
        "purchasedMailboxes": grouped.purchased,
        "totalAssignedMailboxes": grouped.assigned,
        "totalActiveMailboxes": grouped.active,
        "availableMailboxes": grouped.available,
        "domains": [
            {
                "id": item.domain.id,
                "domain": item.domain.name,
                "status": domain_status(item.domain.status),
                "mailboxes": [
                    listed(m, item.domain.name, logins.get(m.id)) for m in item.mailboxes
                ],
            }
            for item in grouped.items
        ],
    }


def details(mailbox: Any, domain: str, login: Credentials | None) -> dict[str, Any]:
    return {
        **listed(mailbox, domain, login),
        "createdAt": mailbox.created_at,
        "secret": login.totp_secret if login else None,
    }
