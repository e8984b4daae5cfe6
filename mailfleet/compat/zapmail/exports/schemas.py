"""Zapmail's export shapes (reference 3.10, 5.7, 7): camelCase everywhere except the export
status, which the document spells in snake_case."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field, field_validator

from mailfleet.compat.shapes import CamelIn, CamelOut, Timestamp
from mailfleet.compat.zapmail.envelope import PageOf
from mailfleet.exports.accounts import AccountView

MAX_IDS = 100_000


def _blank_is_none(value: Any) -> Any:
    # Zapmail's examples send "" for a filter left empty.
    if isinstance(value, str) and not value.strip():
        return None
    return value


class ExportMailboxes(CamelIn):
    apps: list[str] = Field(
        min_length=1, max_length=7, examples=[["REACHINBOX"]], description="Apps, or MANUAL."
    )
    ids: list[uuid.UUID] | None = Field(
        default=None, max_length=MAX_IDS, description="Mailboxes to export; empty or absent: all."
    )
    exclude_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_IDS)
    tag_ids: list[str] = Field(
        default_factory=list, max_length=1, description="At most one domain tag."
    )
    contains: str | None = Field(default=None, max_length=320, description="Part of the address.")
    status: str | None = Field(default=None, max_length=20, examples=["ACTIVE"])
    third_party_account_id: uuid.UUID | None = Field(
        default=None, description="Required when the workspace has several accounts for the app."
    )

    _blank = field_validator("contains", "status", "third_party_account_id", mode="before")(
        _blank_is_none
    )

    @field_validator("tag_ids")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        if any(not 1 <= len(tag.strip()) <= 64 for tag in value):
            raise ValueError("each tag id is 1 to 64 characters")
        return [tag.strip() for tag in value]


class AddAccount(CamelIn):
    email: str = Field(min_length=1, max_length=320, examples=["user@example.com"])
    password: str = Field(min_length=1, max_length=2000, examples=["securepassword"])
    app: str = Field(min_length=1, max_length=40, examples=["INSTANTLY"])
    url: str | None = Field(default=None, max_length=2048, description="EMAILBISON only.")
    client_id: str | None = Field(default=None, max_length=200, description="EMAILBISON only.")
    client_id_app_name: str | None = Field(
        default=None, max_length=200, description="EMAILBISON only."
    )
    api_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Mailfleet addition: the app's API key, where its client signs in with one.",
    )

    _blank = field_validator("url", "client_id", "client_id_app_name", mode="before")(
        _blank_is_none
    )


class UpdateAccount(CamelIn):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=2000)
    app: str = Field(min_length=1, max_length=40)
    account_id: uuid.UUID | None = Field(
        default=None, description="Required when the workspace has several accounts for the app."
    )
    api_key: str | None = Field(default=None, min_length=1, max_length=2000)

    _blank = field_validator("account_id", mode="before")(_blank_is_none)


class Account(CamelOut):
    id: uuid.UUID
    account_id: uuid.UUID = Field(description="The same id, as the update body names it.")
    app: str = Field(examples=["INSTANTLY"])
    email: str | None = Field(description="The login it was added with (its label).")
    label: str
    created_at: Timestamp
    updated_at: Timestamp


class Accounts(PageOf):
    accounts: list[Account]


class RemoteWorkspace(CamelOut):
    id: str
    name: str


class RemoteWorkspaces(CamelOut):
    workspaces: list[RemoteWorkspace]


class ExportStatus(BaseModel):
    """Snake_case, as the document shows it."""

    export_id: int = Field(examples=[10])
    status: str = Field(
        examples=["COMPLETED"], description="PENDING, IN_PROGRESS, COMPLETED, FAILED."
    )
    failure_reason: str | None


def account(view: AccountView) -> dict[str, Any]:
    """An `accounts.AccountView` as listed: never a credential's value."""
    return {
        "id": view.id,
        "accountId": view.id,
        "app": view.app.value,
        "email": view.label if "@" in view.label else None,
        "label": view.label,
        "createdAt": view.created_at,
        "updatedAt": view.updated_at,
    }
