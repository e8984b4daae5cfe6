"""Request and response bodies of provider installations; credentials go in, never out."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from mailfleet.kit.schemas import ResponseSchema, Schema

# A provider takes a handful of keys; the bound keeps a body from carrying thousands.
MAX_KEYS = 20


class InstallationCreate(Schema):
    kind: str = Field(max_length=32, description='The provider kind: "dns" or "mailbox".')
    provider: str = Field(
        max_length=32,
        description='The provider: "cloudflare" or "powerdns" (dns), "google" or "microsoft" '
        "(mailbox).",
    )
    label: str = Field(max_length=200, description="A name for the account, shown in lists.")
    credentials: dict[str, str] = Field(
        max_length=MAX_KEYS,
        description="The account's secrets by the provider's keys (cloudflare: api_token; "
        "powerdns: api_key; google: service_account_json; microsoft: client_secret). Stored "
        "encrypted and never shown again.",
    )
    config: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_KEYS,
        description="The account's ids, not secret (cloudflare: account_id; google: "
        "admin_subject, customer_id, org_unit_path; microsoft: tenant_id, client_id, ...).",
    )


class Installation(ResponseSchema):
    id: uuid.UUID
    kind: str
    provider: str
    label: str
    config: dict[str, str]
    credential_keys: list[str] = Field(description="Which credentials are set (never values).")
    created_at: datetime
    updated_at: datetime
