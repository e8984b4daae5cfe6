"""DNS records of a domain: publishing the managed templates and the user's own records.

The database is the source of truth; after every change the affected RRsets are pushed to the
domain's provider. Every change, managed (templates, from jobs and settings changes) or a user's
own, is returned as a `delivery.Change`: the caller commits it, then hands it to
`delivery.deliver`, which pushes it with no transaction or lock held. Every change bumps the
zone's SOA serial.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from mailfleet.config import MailboxType, Settings
from mailfleet.dns import dkim, templates, zonefile
from mailfleet.dns.delivery import Change, Key, change_of, serial_of
from mailfleet.dns.records import SUPPORTED_TYPES, Record, RRset, group_rrsets, rdata_text
from mailfleet.dns.rows import as_record, bump_serial, records_of
from mailfleet.exceptions import Conflict, NotFound, Unprocessable
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.ids import uuid7
from mailfleet.models import DnsRecord, Domain

log = logging.getLogger(__name__)

SMTP_TYPES = frozenset({MailboxType.SMTP, MailboxType.SMTP_DEDICATED})


# --- managed records -------------------------------------------------------------------------


def ensure_dkim_key(domain: Domain, settings: Settings, secrets: SecretBox) -> None:
    """SMTP domains sign with a key Mailfleet makes; Google and Microsoft sign with their own."""
    if domain.mailbox_type in SMTP_TYPES and not domain.dkim_private_key_enc:
        sealed = dkim.generate_sealed(secrets)
        domain.dkim_selector = domain.dkim_selector or settings.dkim_selector
        domain.dkim_private_key_enc = sealed.private_key_enc
        domain.dkim_public_key = sealed.public_key


def publish_managed(
    session: Session, settings: Settings, secrets: SecretBox, domain: Domain, *, force: bool = False
) -> set[Key]:
    """Make the domain's managed records match its template; returns the RRsets that changed."""
    ensure_dkim_key(domain, settings, secrets)
    try:
        wanted = templates.managed_records(domain, settings)
    except templates.TemplateError as exc:
        raise Unprocessable(str(exc), code="invalid_dns_settings") from exc
    current = [row for row in records_of(session, domain.id) if row.managed]
    current_set = {as_record(row) for row in current}
    domain.published_type = domain.mailbox_type
    if current_set == set(wanted) and not force:
        return set()
    session.execute(
        delete(DnsRecord).where(DnsRecord.domain_id == domain.id, DnsRecord.managed.is_(True))
    )
    _insert(session, domain, wanted, managed=True)
    bump_serial(domain)
    changed = {(r.name, r.type) for r in current_set ^ set(wanted)}
    return changed | ({(r.name, r.type) for r in wanted} if force else set())


def _insert(session: Session, domain: Domain, records: Iterable[Record], *, managed: bool) -> None:
    rows = [
        {
            "id": uuid7(),
            "created_at": clock.now(),
            "updated_at": clock.now(),
            "workspace_id": domain.workspace_id,
            "domain_id": domain.id,
            "name": record.name,
            "type": record.type,
            "content": record.content,
            "ttl": record.ttl,
            "priority": record.priority,
            "managed": managed,
        }
        for record in records
    ]
    if rows:
        session.execute(insert(DnsRecord), rows)


def republish(
    session: Session, settings: Settings, secrets: SecretBox, domain: Domain, *, force: bool = False
) -> Change | None:
    """Managed records to their template; the caller commits, then hands the change to
    `deliver`. None when there is nothing to send: the records were already so, or the zone
    does not exist yet (zone creation sends everything).

    With `force`, every managed RRset is rewritten and sent (a reset).
    """
    change = _managed_change(session, settings, secrets, domain, force=force)
    if not change.keys or domain.zone_id is None:
        return None
    return change


def reset(session: Session, settings: Settings, secrets: SecretBox, domain: Domain) -> Change:
    """Managed records back to their template; the caller commits, then hands the change
    (every managed RRset) to `deliver`."""
    return _managed_change(session, settings, secrets, domain, force=True)


def _managed_change(
    session: Session, settings: Settings, secrets: SecretBox, domain: Domain, *, force: bool
) -> Change:
    """Publish the template; the change's undo puts back the managed rows and signing key."""
    before = serial_of(domain)
    kept = [_row(row) for row in records_of(session, domain.id) if row.managed]
    signing = {
        "dkim_selector": domain.dkim_selector,
        "dkim_private_key_enc": domain.dkim_private_key_enc,
        "dkim_public_key": domain.dkim_public_key,
        "published_type": domain.published_type,
    }
    changed = publish_managed(session, settings, secrets, domain, force=force)
    session.flush()
    domain_id = domain.id

    def undo(side: Session) -> None:
        side.execute(
            delete(DnsRecord).where(DnsRecord.domain_id == domain_id, DnsRecord.managed.is_(True))
        )
        if kept:
            side.execute(insert(DnsRecord), kept)
        side.execute(update(Domain).where(Domain.id == domain_id).values(**signing))

    return change_of(domain, changed, before, undo)


def everything(session: Session, domain: Domain) -> Change:
    """Every RRset of the zone as a change to send (a new zone); nothing to put back."""
    session.flush()
    keys = frozenset((row.name, row.type) for row in records_of(session, domain.id))
    return change_of(domain, keys, serial_of(domain), None)


def zone_file(session: Session, settings: Settings, domain: Domain) -> str:
    records = [as_record(row) for row in records_of(session, domain.id)]
    return zonefile.export_domain_zone(
        domain.name,
        domain.nameserver_1,
        domain.dns_serial,
        records,
        settings,
        nameservers=domain.nameservers,
    )


# --- user records ----------------------------------------------------------------------------


def absolute_name(domain: Domain, name: str) -> str:
    """ "@", "www", "www.acme.com" or "www.acme.com." -> "www.acme.com" (ASCII, lower-case).

    A name ending in a dot is absolute (RFC 1035 master-file convention): it must lie inside
    the zone, never be read as relative to it.
    """
    given = name.strip()
    raw = given.rstrip(".").lower()
    if raw == "@":
        return domain.name
    try:
        raw = raw.encode("idna").decode("ascii") if not raw.isascii() else raw
    except UnicodeError as exc:
        raise Unprocessable(
            "Not a valid DNS name.", code="invalid_record_name", field="name"
        ) from exc
    inside = raw == domain.name or raw.endswith("." + domain.name)
    if given.endswith(".") and not inside:
        raise Unprocessable(
            f"{given} is outside the zone {domain.name}: give a name in the zone "
            f"(www.{domain.name}.) or relative to it (www).",
            code="record_name_outside_zone",
            field="name",
        )
    if raw == "":
        return domain.name
    full = raw if inside else f"{raw}.{domain.name}"
    labels = full.split(".")
    if len(full) > 253 or any(not label or len(label) > 63 for label in labels):
        raise Unprocessable("Not a valid DNS name.", code="invalid_record_name", field="name")
    if any(not all(c.isalnum() or c in "-_*" for c in label) for label in labels):
        raise Unprocessable(
            "Names use letters, digits, '-', '_' and '*'.", code="invalid_record_name", field="name"
        )
    return full


def validate(domain: Domain, record: Record) -> None:
    if record.type not in SUPPORTED_TYPES:
        raise Unprocessable(
            f"Type must be one of {', '.join(SUPPORTED_TYPES)}.",
            code="unsupported_record_type",
            field="type",
        )
    if record.type in ("MX", "SRV") and record.priority is None:
        raise Unprocessable(
            f"{record.type} records need a priority.", code="priority_required", field="priority"
        )
    if record.type == "CNAME" and record.name == domain.name:
        raise Unprocessable(
            "A CNAME cannot sit at the zone apex.", code="cname_at_apex", field="name"
        )
    if record.type == "NS" and record.name == domain.name:
        raise Unprocessable(
            "The apex NS set is managed by Mailfleet.", code="managed_record", field="type"
        )
    try:
        dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(record.type), rdata_text(record)
        )
    except (dns.exception.DNSException, ValueError) as exc:
        raise Unprocessable(
            f"Not valid {record.type} data: {exc}", code="invalid_record_content", field="content"
        ) from exc


def check_coexistence(
    existing: Sequence[DnsRecord], record: Record, *, ignore: uuid.UUID | None = None
) -> None:
    """RFC rules and ours: CNAME stands alone, one SPF per name, managed sets stay managed."""
    same_name = [row for row in existing if row.name == record.name and row.id != ignore]
    for row in same_name:
        if (row.type, row.content, row.priority) == (record.type, record.content, record.priority):
            raise Conflict("This record already exists.", code="duplicate_record")
        if row.type == "CNAME" or record.type == "CNAME":
            raise Conflict(
                "A CNAME cannot share its name with other records.",
                code="cname_conflict",
                field="name",
            )
        if row.managed and row.type == record.type and record.type != "TXT":
            raise Conflict(
                f"{record.type} at {record.name} is managed by Mailfleet.",
                code="managed_record",
                field="type",
            )
        if (
            record.type == "TXT"
            and row.type == "TXT"
            and templates.is_spf(as_record(row))
            and templates.is_spf(record)
        ):
            raise Conflict(
                "This name already has an SPF record; a name may have only one.",
                code="spf_exists",
                field="content",
            )


def get_record(session: Session, domain: Domain, record_id: uuid.UUID) -> DnsRecord:
    row = session.scalars(
        select(DnsRecord).where(DnsRecord.id == record_id, DnsRecord.domain_id == domain.id)
    ).first()
    if row is None:
        raise NotFound(f"Record {record_id} not found.", code="dns_record_not_found")
    return row


def _checked(domain: Domain, record: Record) -> Record:
    """The record as stored: absolute name, upper-case type, trimmed content; validated."""
    record = Record(
        absolute_name(domain, record.name),
        record.type.upper(),
        record.content.strip(),
        record.ttl,
        record.priority,
    )
    validate(domain, record)
    return record


def add_record(session: Session, domain: Domain, record: Record) -> tuple[DnsRecord, Change]:
    """Store a user record; the caller commits, then hands the change to `deliver`."""
    record = _checked(domain, record)
    check_coexistence(records_of(session, domain.id), record)
    before = serial_of(domain)
    row = DnsRecord(
        workspace_id=domain.workspace_id,
        domain_id=domain.id,
        name=record.name,
        type=record.type,
        content=record.content,
        ttl=record.ttl,
        priority=record.priority,
        managed=False,
    )
    session.add(row)
    bump_serial(domain)
    session.flush()
    row_id = row.id

    def undo(side: Session) -> None:
        side.execute(delete(DnsRecord).where(DnsRecord.id == row_id))

    return row, change_of(domain, {(record.name, record.type)}, before, undo)


def update_record(
    session: Session, domain: Domain, row: DnsRecord, record: Record
) -> tuple[DnsRecord, Change]:
    _refuse_managed(row)
    old_key = (row.name, row.type)
    record = _checked(domain, record)
    check_coexistence(records_of(session, domain.id), record, ignore=row.id)
    before = serial_of(domain)
    old_values = _values(row)
    row.name, row.type, row.content = record.name, record.type, record.content
    row.ttl, row.priority, row.provider_record_id = record.ttl, record.priority, None
    bump_serial(domain)
    session.flush()
    row_id = row.id

    def undo(side: Session) -> None:
        side.execute(update(DnsRecord).where(DnsRecord.id == row_id).values(**old_values))

    return row, change_of(domain, {old_key, (row.name, row.type)}, before, undo)


def delete_record(session: Session, domain: Domain, row: DnsRecord) -> Change:
    _refuse_managed(row)
    key = (row.name, row.type)
    before = serial_of(domain)
    old_values = _row(row)
    session.delete(row)
    bump_serial(domain)
    session.flush()

    def undo(side: Session) -> None:
        side.execute(insert(DnsRecord), [old_values])

    return change_of(domain, {key}, before, undo)


def _values(row: DnsRecord) -> dict[str, object]:
    return {
        "name": row.name,
        "type": row.type,
        "content": row.content,
        "ttl": row.ttl,
        "priority": row.priority,
        "provider_record_id": row.provider_record_id,
        "updated_at": row.updated_at,
    }


def _row(row: DnsRecord) -> dict[str, object]:
    """Every column of a row, to insert it again as it was."""
    return {
        **_values(row),
        "id": row.id,
        "workspace_id": row.workspace_id,
        "domain_id": row.domain_id,
        "managed": row.managed,
        "created_at": row.created_at,
    }


def _refuse_managed(row: DnsRecord) -> None:
    if row.managed:
        raise Conflict(
            "This record is managed by Mailfleet; change the domain's settings or reset the "
            "template instead.",
            code="managed_record",
        )


def rrsets(session: Session, domain: Domain) -> list[RRset]:
    return group_rrsets(as_record(row) for row in records_of(session, domain.id))
