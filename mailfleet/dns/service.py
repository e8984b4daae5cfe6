"""DNS records of a domain: publishing the managed templates and the user's own records.

The database is the source of truth; after every change the affected RRsets are pushed to the
domain's provider. Every change, managed (templates, from jobs and settings changes) or a user's
own, is committed first and pushed after the commit with no transaction or lock held (`send`):
a slow provider must not hold the write lock, which on SQLite is the whole deployment's. A
request's refusal puts its change back ("a request that fails changes nothing"); a job's change
stays (the health check reports the drift) and the reconcile job sends it again. Every change
bumps the zone's SOA serial.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from mailfleet.config import MailboxType, Settings
from mailfleet.db import Database
from mailfleet.dns import dkim, templates, zonefile
from mailfleet.dns.providers.base import DnsProvider, DnsProviderError, Zone
from mailfleet.dns.providers.builtin import BuiltinDnsProvider
from mailfleet.dns.providers.registry import provider_for
from mailfleet.dns.records import SUPPORTED_TYPES, Record, RRset, group_rrsets, rdata_text
from mailfleet.exceptions import BadGateway, Conflict, NotFound, Unprocessable
from mailfleet.jobs.queue import Runtime, job
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.ids import uuid7
from mailfleet.models import DnsRecord, Domain

log = logging.getLogger(__name__)

SMTP_TYPES = frozenset({MailboxType.SMTP, MailboxType.SMTP_DEDICATED})
Key = tuple[str, str]


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


def bump_serial(domain: Domain) -> None:
    domain.dns_serial = (domain.dns_serial or 0) + 1
    domain.updated_at = clock.now()


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
    before = _serial_of(domain)
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

    return _change(domain, changed, before, undo)


def everything(session: Session, domain: Domain) -> Change:
    """Every RRset of the zone as a change to send (a new zone); nothing to put back."""
    session.flush()
    keys = frozenset((row.name, row.type) for row in records_of(session, domain.id))
    return Change(domain.id, keys, domain.dns_serial, _serial_of(domain), None, domain.dns_provider)


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


# --- the provider ----------------------------------------------------------------------------


def provider_of(settings: Settings, domain: Domain) -> DnsProvider:
    return provider_for(settings, domain.dns_provider or settings.dns_provider)


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
    before = _serial_of(domain)
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

    return row, _change(domain, {(record.name, record.type)}, before, undo)


def update_record(
    session: Session, domain: Domain, row: DnsRecord, record: Record
) -> tuple[DnsRecord, Change]:
    _refuse_managed(row)
    old_key = (row.name, row.type)
    record = _checked(domain, record)
    check_coexistence(records_of(session, domain.id), record, ignore=row.id)
    before = _serial_of(domain)
    old_values = _values(row)
    row.name, row.type, row.content = record.name, record.type, record.content
    row.ttl, row.priority, row.provider_record_id = record.ttl, record.priority, None
    bump_serial(domain)
    session.flush()
    row_id = row.id

    def undo(side: Session) -> None:
        side.execute(update(DnsRecord).where(DnsRecord.id == row_id).values(**old_values))

    return row, _change(domain, {old_key, (row.name, row.type)}, before, undo)


def delete_record(session: Session, domain: Domain, row: DnsRecord) -> Change:
    _refuse_managed(row)
    key = (row.name, row.type)
    before = _serial_of(domain)
    old_values = _row(row)
    session.delete(row)
    bump_serial(domain)
    session.flush()

    def undo(side: Session) -> None:
        side.execute(insert(DnsRecord), [old_values])

    return _change(domain, {key}, before, undo)


# --- record changes reach the provider after their commit ---------------------------------
#
# A change (a user's record, a template republished by a job or a settings change, a new zone's
# records) is stored and committed first (the write lock, SQLite's database-wide one, is held
# only for that), then sent to the provider with no transaction open, then its outcome stored
# in a short transaction of its own. A request's refusal puts the change back ("a request that
# fails changes nothing") and answers 502. A change another request made to the zone while ours
# was on its way is caught by the serial and sent again. Should the process die between the
# commit and the provider's answer, the `RECONCILE` job enqueued right after the commit sends
# the domain's changed RRsets again from the stored rows (idempotent).

RECONCILE = "dns.push_records"
RECONCILE_DELAY_SECONDS = 60.0
RESENDS = 3


@dataclass(frozen=True)
class Change:
    """A committed change of a domain's records, still to reach its provider."""

    domain_id: uuid.UUID
    keys: frozenset[Key]
    serial: int
    # The zone's serial and updated_at before the change, restored with the change's undo.
    before: tuple[int, datetime]
    # None for a resend (the reconcile job): nothing of its own to put back.
    undo: Callable[[Session], None] | None
    # The domain's provider when the change was made (None: no zone yet, or not known).
    provider: str | None = None


@dataclass(frozen=True)
class _Push:
    zone: Zone
    name: str
    targets: list[RRset]
    deletes: list[Key]
    serial: int


def _serial_of(domain: Domain) -> tuple[int, datetime]:
    return domain.dns_serial, domain.updated_at


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


def _change(
    domain: Domain, keys: set[Key], before: tuple[int, datetime], undo: Callable[[Session], None]
) -> Change:
    return Change(domain.id, frozenset(keys), domain.dns_serial, before, undo, domain.dns_provider)


def send(database: Database, settings: Settings, change: Change) -> None:
    """Push a committed change to the domain's provider; call it with no transaction open."""
    for _ in range(RESENDS):
        with database.transaction(write=False) as session:
            domain = session.get(Domain, change.domain_id)
            plan = _plan(session, domain, change.keys) if domain is not None else None
            provider = provider_of(settings, domain) if domain is not None else None
        if plan is None or provider is None:
            return
        try:
            ids = provider.replace_rrsets(plan.zone, plan.name, plan.targets, delete=plan.deletes)
        except DnsProviderError as exc:
            if change.undo is not None:
                _put_back(database, change)
            raise BadGateway(
                f"The DNS provider did not accept the change: {exc}", code="dns_provider_error"
            ) from exc
        if _store_ids(database, change.domain_id, ids) == plan.serial:
            return
        # The zone changed while ours was on its way: send the newest rows of our RRsets.


def _plan(session: Session, domain: Domain, keys: Iterable[Key]) -> _Push | None:
    if domain.zone_id is None or domain.dns_provider is None:
        return None  # No zone yet: zone creation pushes everything.
    records = [as_record(row) for row in records_of(session, domain.id)]
    rrsets = group_rrsets(r for r in records if not (r.type == "NS" and r.name == domain.name))
    wanted = {key for key in keys if key != (domain.name, "NS")}
    targets = [rrset for rrset in rrsets if (rrset.name, rrset.type) in wanted]
    deletes = sorted(wanted - {(rrset.name, rrset.type) for rrset in targets})
    if not targets and not deletes:
        return None
    zone = Zone(domain.zone_id, (domain.nameserver_1, domain.nameserver_2))
    return _Push(zone, domain.name, targets, deletes, domain.dns_serial)


def _store_ids(
    database: Database, domain_id: uuid.UUID, ids: dict[tuple[str, str, str], str]
) -> int | None:
    """Record the provider's ids for the rows; returns the zone's serial now."""
    with database.transaction() as session:
        for row in records_of(session, domain_id):
            record_id = ids.get((row.name, row.type, row.content))
            if record_id and row.provider_record_id != record_id:
                row.provider_record_id = record_id
        serial: int | None = session.scalar(select(Domain.dns_serial).where(Domain.id == domain_id))
        return serial


def _put_back(database: Database, change: Change) -> None:
    """Undo a change the provider refused; the zone's serial too unless it moved on since."""
    with database.transaction() as session:
        domain = session.scalars(
            select(Domain).where(Domain.id == change.domain_id).with_for_update()
        ).first()
        if domain is None:
            return
        assert change.undo is not None
        change.undo(session)
        if domain.dns_serial == change.serial:
            domain.dns_serial, domain.updated_at = change.before
        else:
            bump_serial(domain)


@job(RECONCILE)
def push_records(runtime: Runtime, domain_id: str, keys: list[list[str]]) -> None:
    """Send a domain's RRsets again from the stored rows (after a request's change)."""
    resend = frozenset((name, kind) for name, kind in keys)
    change = Change(uuid.UUID(domain_id), resend, 0, (0, clock.now()), None)
    try:
        send(runtime.database, runtime.settings, change)
    except BadGateway:
        # Nothing to put back here (the request did): the health check reports the drift.
        log.warning("the DNS provider refused the records of domain %s again", domain_id)


def deliver(runtime: Runtime, change: Change, *, put_back: bool = True) -> None:
    """After the commit of `change`: schedule its resend, then send it now (no transaction
    open). A refusal raises BadGateway, having put the change back unless `put_back` is False
    (a job's change stays stored: the resend may yet get it through, and until then the health
    check reports the drift)."""
    if change.provider == BuiltinDnsProvider.name:
        # The database is the zone (dns.server answers from it): nothing to send, nothing that a
        # crash could lose, so no resend either (a batch of zones would queue one per domain).
        return
    reconcile_later(runtime, change)
    send(runtime.database, runtime.settings, change if put_back else replace(change, undo=None))


def also_undo(
    change: Change, undo: Callable[[Session], None], *, before: tuple[int, datetime] | None = None
) -> Change:
    """The change, putting back the caller's own part too (after the records) on a refusal;
    `before` is the zone's serial and updated_at to restore, when the caller changed the domain
    before the records."""
    first = change.undo

    def both(side: Session) -> None:
        if first is not None:
            first(side)
        undo(side)

    return replace(change, undo=both, before=before or change.before)


def reconcile_later(runtime: Runtime, change: Change) -> None:
    """Enqueue the safety net right after the commit, before the provider is called."""
    keys = [list(key) for key in sorted(change.keys)]
    runtime.enqueue_in(RECONCILE, (str(change.domain_id), keys), delay=RECONCILE_DELAY_SECONDS)


def _refuse_managed(row: DnsRecord) -> None:
    if row.managed:
        raise Conflict(
            "This record is managed by Mailfleet; change the domain's settings or reset the "
            "template instead.",
            code="managed_record",
        )


def rrsets(session: Session, domain: Domain) -> list[RRset]:
    return group_rrsets(as_record(row) for row in records_of(session, domain.id))
