from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from mailfleet.kit.schemas import ResponseSchema, Schema, Text
from mailfleet.models import DomainStatus

# What adding or changing a record can answer with (every surface serving records documents
# these): the domain, the record's checks, the managed records' protection, the provider.
RECORD_ERRORS = (
    "domain_not_found",
    "invalid_record_name",
    "record_name_outside_zone",
    "unsupported_record_type",
    "priority_required",
    "cname_at_apex",
    "managed_record",
    "invalid_record_content",
    "duplicate_record",
    "cname_conflict",
    "spf_exists",
    "dns_provider_error",
)

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA"]


class DnsRecordIn(Schema):
    name: Text = Field(
        max_length=253, description='"@" for the apex, a label ("www"), or a full name.'
    )
    type: RecordType
    content: Text = Field(
        min_length=1,
        max_length=4096,
        description="Host name for MX/CNAME/NS (no priority); the whole text for TXT.",
    )
    ttl: int = Field(default=3600, ge=60, le=86400)
    priority: int | None = Field(default=None, ge=0, le=65535, description="MX and SRV only.")


class DnsRecord(ResponseSchema):
    id: uuid.UUID
    name: str
    type: str
    content: str
    ttl: int
    priority: int | None
    managed: bool = Field(description="Written by Mailfleet from the domain's template.")
    created_at: datetime
    updated_at: datetime


class DnsRecordList(ResponseSchema):
    serial: int
    items: list[DnsRecord]


class Verification(ResponseSchema):
    status: DomainStatus
    delegated: bool
    diagnosis: dict[str, Any]


class HealthCheck(ResponseSchema):
    checked_at: datetime | None
    drift: bool
    report: dict[str, Any] | None
