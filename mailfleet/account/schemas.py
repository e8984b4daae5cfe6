from __future__ import annotations

import uuid

from pydantic import Field

from mailfleet.kit.schemas import ResponseSchema
from mailfleet.models import MailboxType, Role


class AccountUser(ResponseSchema):
    id: uuid.UUID
    email: str
    name: str
    is_operator: bool


class AccountWorkspace(ResponseSchema):
    id: uuid.UUID
    name: str
    role: Role


class Allocation(ResponseSchema):
    allocated: int
    used: int
    remaining: int


class Summary(ResponseSchema):
    domains: int = Field(description="Domains of the workspace, REMOVED ones excepted.")
    active_domains: int
    pending_orders: int = Field(description="Mailbox orders PENDING or IN_PROGRESS.")
    active_api_keys: int = Field(description="Your API keys that are not revoked.")


class Account(ResponseSchema):
    user: AccountUser
    workspaces: list[AccountWorkspace]
    workspace: AccountWorkspace | None = Field(
        description="The request's workspace (X-Workspace-Id, else the key's, else your first)."
    )
    allocations: dict[MailboxType, Allocation] = Field(
        description="Mailbox slots per type in the request's workspace."
    )
    summary: Summary
