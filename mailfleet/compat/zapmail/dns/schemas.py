"""Zapmail's DNS record shapes (reference 3.9, 5.10)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from mailfleet.compat.shapes import CamelIn, CamelOut, Timestamp
from mailfleet.dns.records import Record

Host = Annotated[str, StringConstraints(min_length=1, max_length=253)]
Value = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
RecordType = Annotated[str, StringConstraints(min_length=1, max_length=10)]
MAX_RECORDS = 100


class RecordIn(CamelIn):
    host: Host = Field(examples=["@"], description='"@" for the apex, or a name in the zone.')
    value: Value = Field(examples=["203.0.113.1"])
    record_type: RecordType = Field(examples=["A"])
    priority: int | None = Field(
        default=None, ge=0, le=65535, description='MX only; "10 mx.host" in value works too.'
    )
    ttl: int = Field(default=3600, ge=60, le=86400)


class RecordChange(RecordIn):
    id: uuid.UUID


class AddRecords(CamelIn):
    assigned_domain_id: uuid.UUID
    records: list[RecordIn] = Field(min_length=1, max_length=MAX_RECORDS)


class UpdateRecords(CamelIn):
    assigned_domain_id: uuid.UUID
    records: list[RecordChange] = Field(min_length=1, max_length=MAX_RECORDS)


class DeleteRecords(CamelIn):
    assigned_domain_id: uuid.UUID
    ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_RECORDS)


class ProviderRecord(CamelOut):
    id: str | None
    name: str
    type: str
    content: str


class DnsRecord(CamelOut):
    id: uuid.UUID
    value: str
    host: str = Field(examples=["dummy.com"], description="The absolute name, as answered.")
    record_type: str
    assigned_domain_id: uuid.UUID
    cdf_record_id: str | None = Field(
        description="The DNS provider's record id; null on Mailfleet's own DNS server."
    )
    cdf_response: ProviderRecord
    priority: int | None
    created_at: Timestamp
    updated_at: Timestamp
    managed: bool = Field(description="Published by Mailfleet (MX, SPF, DKIM...): read-only.")


def as_record(name: str, entry: RecordIn) -> Record:
    kind = entry.record_type.strip().upper()
    value, priority = entry.value.strip(), entry.priority
    if kind == "MX" and priority is None:
        first, _, rest = value.partition(" ")
        if first.isdigit() and rest.strip():
            priority, value = int(first), rest.strip()
    return Record(name, kind, value, entry.ttl, priority)


def record(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "value": row.content,
        "host": row.name,
        "recordType": row.type,
        "assignedDomainId": row.domain_id,
        "cdfRecordId": row.provider_record_id,
        "cdfResponse": {
            "id": row.provider_record_id,
            "name": row.name,
            "type": row.type,
            "content": row.content,
        },
        "priority": row.priority,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "managed": row.managed,
    }
