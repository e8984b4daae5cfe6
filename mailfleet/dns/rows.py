"""A domain's stored DNS records, read the same way by the record rules (`service`) and by the
delivery to the provider (`delivery`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.dns.records import Record
from mailfleet.kit import clock
from mailfleet.models import DnsRecord, Domain


def as_record(row: DnsRecord) -> Record:
    return Record(row.name, row.type, row.content, row.ttl, row.priority)


def records_of(session: Session, domain_id: uuid.UUID) -> list[DnsRecord]:
    return list(
        session.scalars(
            select(DnsRecord)
            .where(DnsRecord.domain_id == domain_id)
            .order_by(DnsRecord.name, DnsRecord.type, DnsRecord.id)
        )
    )


def bump_serial(domain: Domain) -> None:
    domain.dns_serial = (domain.dns_serial or 0) + 1
    domain.updated_at = clock.now()
