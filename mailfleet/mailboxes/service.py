"""Mailboxes as customers manage them: list, read, credentials, edit, removal."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, select, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.types import NullType

from mailfleet.auth.scoping import WORKSPACE, get_scoped, scoped_template
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.pagination import contains_pattern, keyset, keyset_params, split_page
from mailfleet.mailboxes import rules, transitions
from mailfleet.mailboxes.backends import backend_for
from mailfleet.mailboxes.backends.automated import sync_profile_after_commit
from mailfleet.models import (
    Domain,
    ExportApp,
    ExportJob,
    ExportOutcome,
    ExportResult,
    Mailbox,
    MailboxStatus,
    MailboxType,
)

# What a mailbox list shows, keyed as schemas.Mailbox names its fields; never a secret column.
LIST_FIELDS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Mailbox.id,
    "address": Mailbox.address,
    "username": Mailbox.username,
    "first_name": Mailbox.first_name,
    "last_name": Mailbox.last_name,
    "type": Mailbox.mailbox_type,
    "backend": Mailbox.backend,
    "status": Mailbox.status,
    "domain_id": Mailbox.domain_id,
    "order_id": Mailbox.order_id,
    "failure_reason": Mailbox.failure_reason,
    "expires_at": Mailbox.expires_at,
    "remove_at_renewal": Mailbox.remove_at_renewal,
    "created_at": Mailbox.created_at,
    "updated_at": Mailbox.updated_at,
    "activated_at": Mailbox.activated_at,
    "removed_at": Mailbox.removed_at,
    "profile_picture_url": Mailbox.profile_picture_url,
}


@dataclass(frozen=True)
class ListFilters:
    """The filters of a mailbox list, hashable: with the cursor and limit, a page's cache key."""

    statuses: Sequence[MailboxStatus] | None = None
    mailbox_type: MailboxType | None = None
    domain_id: uuid.UUID | None = None
    text: str | None = None
    # Only mailboxes an export put in this app (created or updated there).
    exported_to: ExportApp | None = None

    @property
    def bounded(self) -> bool:
        """Whether a page reads about one page of index entries, with no scan and no sort.

        (workspace_id, id) serves an unfiltered page and (workspace_id, status, id) a page of
        one status; the other filters walk the workspace's mailboxes until a page matches.
        """
        return self.params().keys() <= {"statuses"} and len(set(self.statuses or ())) <= 1

    def __post_init__(self) -> None:
        if self.statuses is not None:
            object.__setattr__(self, "statuses", tuple(self.statuses))

    def params(self) -> dict[str, Any]:
        """Values for the bind parameters of the list statement built for these filters."""
        params: dict[str, Any] = {}
        if self.statuses:
            params["statuses"] = self.statuses
        if self.mailbox_type is not None:
            params["mailbox_type"] = self.mailbox_type
        if self.domain_id is not None:
            params["domain_id"] = self.domain_id
        if self.text and self.text.strip():
            params["pattern"] = contains_pattern(self.text)
        if self.exported_to is not None:
            params["exported_to"] = self.exported_to
        return params


@functools.cache
def _list_statement(filters: frozenset[str], after: bool) -> Select[Any]:
    """The list query for one set of filters, built once: building and keying a 17-column
    select costs SQLAlchemy more than running it.

    Columns come back as the driver returns them (no type processing); the endpoint renders
    them straight to JSON (`kit.responses.RowRenderer`). Parsing every UUID and timestamp into
    Python objects only to print them again cost more than the query.
    """
    raw = [type_coerce(column, NullType()).label(name) for name, column in LIST_FIELDS.items()]
    statement = scoped_template(Mailbox, *raw)
    if "statuses" in filters:
        statement = statement.where(Mailbox.status.in_(bindparam("statuses", expanding=True)))
    if "mailbox_type" in filters:
        statement = statement.where(Mailbox.mailbox_type == bindparam("mailbox_type"))
    if "domain_id" in filters:
        statement = statement.where(Mailbox.domain_id == bindparam("domain_id"))
    if "pattern" in filters:
        statement = statement.where(Mailbox.address.like(bindparam("pattern"), escape="\\"))
    if "exported_to" in filters:
        exported = (
            select(ExportResult.id)
            .join(ExportJob, ExportJob.id == ExportResult.job_id)
            .where(
                ExportResult.mailbox_id == Mailbox.id,
                ExportResult.status.in_((ExportOutcome.CREATED, ExportOutcome.UPDATED)),
                ExportJob.app == bindparam("exported_to"),
            )
            .exists()
        )
        statement = statement.where(exported)
    return keyset(statement, Mailbox.id, after=after)


def list_mailboxes(
    connection: Connection,
    *,
    workspace_id: uuid.UUID,
    filters: ListFilters,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Row[Any]], str | None]:
    """A page of LIST_FIELDS rows, newest first, with raw driver values (see _list_statement)."""
    params = filters.params()
    statement = _list_statement(frozenset(params), after=bool(cursor))
    params |= keyset_params(cursor, limit)
    params[WORKSPACE] = workspace_id
    rows = connection.execute(statement, params).all()
    return split_page(rows, limit, lambda row: _as_uuid(row[0]))


def _as_uuid(raw: uuid.UUID | str) -> uuid.UUID:
    # SQLite hands back the stored hex, PostgreSQL a UUID.
    return raw if isinstance(raw, uuid.UUID) else uuid.UUID(raw)


def get_mailbox(session: Session, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID) -> Mailbox:
    return get_scoped(session, Mailbox, workspace_id, mailbox_id)


@dataclass(frozen=True)
class Credentials:
    id: uuid.UUID
    address: str
    password: str
    app_password: str | None
    totp_secret: str | None
    smtp_host: str | None
    smtp_port: int | None
    imap_host: str | None
    imap_port: int | None
    smtp_security: str | None
    imap_security: str | None


# A provisioning mailbox already has its password stored (see provisioning.start) but is not
# usable yet.
_NOT_READY = (MailboxStatus.PENDING, MailboxStatus.PROVISIONING, MailboxStatus.FAILED)


def _usable(mailbox: Mailbox) -> bool:
    return mailbox.password_enc is not None and mailbox.status not in _NOT_READY


def _decrypted(secrets: SecretBox, mailbox: Mailbox) -> Credentials:
    assert mailbox.password_enc is not None
    return Credentials(
        id=mailbox.id,
        address=mailbox.address,
        password=secrets.decrypt(mailbox.password_enc),
        app_password=secrets.decrypt_optional(mailbox.app_password_enc),
        totp_secret=secrets.decrypt_optional(mailbox.totp_secret_enc),
        smtp_host=mailbox.smtp_host,
        smtp_port=mailbox.smtp_port,
        imap_host=mailbox.imap_host,
        imap_port=mailbox.imap_port,
        smtp_security=mailbox.smtp_security,
        imap_security=mailbox.imap_security,
    )


def credentials(
    session: Session, secrets: SecretBox, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID
) -> Credentials:
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id)
    if not _usable(mailbox):
        raise Conflict(
            "This mailbox has no credentials yet; they exist once it is ACTIVE.",
            code="mailbox_not_active",
        )
    return _decrypted(secrets, mailbox)


def credentials_of(
    secrets: SecretBox, mailboxes: Iterable[Mailbox]
) -> dict[uuid.UUID, Credentials]:
    """The credentials of those of `mailboxes` (already read in their workspace) that have
    usable ones; the others are left out."""
    return {m.id: _decrypted(secrets, m) for m in mailboxes if _usable(m)}


def update_mailbox(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    mailbox_id: uuid.UUID,
    first_name: str | None,
    last_name: str | None,
    username: str | None,
    actor: str,
) -> Mailbox:
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id)
    if mailbox.status in (MailboxStatus.REMOVED, MailboxStatus.FAILED):
        raise Conflict(
            f"A {mailbox.status.value} mailbox cannot be changed.", code="mailbox_not_editable"
        )
    changed: dict[str, str] = {}
    old_address = mailbox.address
    if username is not None:
        new = rules.normalise_username(username, "username")
        if new != mailbox.username:
            # Lock the domain: the same lock order creates mailboxes, so uniqueness holds.
            domain = session.scalars(
                select(Domain).where(Domain.id == mailbox.domain_id).with_for_update()
            ).one()
            rules.check_usernames_free(
                session, domain.id, [new], exclude_id=mailbox.id, field="username"
            )
            mailbox.username = new
            mailbox.address = f"{new}@{domain.name}"
            changed["username"] = new
    if first_name is not None and first_name != mailbox.first_name:
        mailbox.first_name = changed["first_name"] = first_name
    if last_name is not None and last_name != mailbox.last_name:
        mailbox.last_name = changed["last_name"] = last_name
    if changed:
        mailbox.updated_at = clock.now()
        events.record(
            session,
            workspace_id=workspace_id,
            type=EventType.MAILBOX_UPDATED,
            subject_type="mailbox",
            subject_id=mailbox.id,
            actor=actor,
            fields=sorted(changed),
        )
        session.flush()
        sync_profile_after_commit(session, mailbox, old_address=old_address, photo=False)
    return mailbox


def remove_now(
    session: Session, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID, actor: str
) -> Mailbox:
    """Rule 7, instantly: deprovision now; the slot stays held until the renewal date."""
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id, for_update=True)
    if mailbox.status == MailboxStatus.REMOVED:
        return mailbox
    if mailbox.status == MailboxStatus.FAILED:
        # A failed mailbox holds no slot; marking it removed would block one until renewal.
        raise Conflict("A FAILED mailbox has nothing to remove.", code="mailbox_failed")
    transitions.move(session, mailbox, MailboxStatus.REMOVED, actor=actor, reason="removed")
    backend_for(mailbox.backend).deprovision(session, [mailbox], actor=actor)
    return mailbox


def hand_over(
    session: Session, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID, actor: str
) -> Mailbox:
    """Remove a mailbox another one now replaces (a domain swap): deprovisioned now, and its
    slot freed at once rather than at renewal, since the mailbox made in its place holds it."""
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id, for_update=True)
    if mailbox.status not in (MailboxStatus.REMOVED, MailboxStatus.FAILED):
        remove_now(session, workspace_id=workspace_id, mailbox_id=mailbox_id, actor=actor)
    now = clock.now()
    if mailbox.expires_at > now:
        mailbox.expires_at = now
    return mailbox


def schedule_removal(
    session: Session, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID, actor: str
) -> Mailbox:
    """Rule 7, at renewal: ACTIVE -> REMOVAL_SCHEDULED until `expires_at`; cancellable."""
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id, for_update=True)
    if mailbox.status == MailboxStatus.REMOVAL_SCHEDULED:
        return mailbox
    if mailbox.status != MailboxStatus.ACTIVE:
        raise Conflict(
            f"Only an ACTIVE mailbox can be scheduled for removal; this one is "
            f"{mailbox.status.value}.",
            code="mailbox_not_active",
        )
    transitions.move(
        session, mailbox, MailboxStatus.REMOVAL_SCHEDULED, actor=actor, reason="removal scheduled"
    )
    return mailbox


def cancel_scheduled_removal(
    session: Session, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID, actor: str
) -> Mailbox:
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id, for_update=True)
    if mailbox.status != MailboxStatus.REMOVAL_SCHEDULED:
        raise Conflict("This mailbox is not scheduled for removal.", code="removal_not_scheduled")
    transitions.move(
        session, mailbox, MailboxStatus.ACTIVE, actor=actor, reason="scheduled removal cancelled"
    )
    return mailbox


def apply_due_removals(session: Session, now: datetime, *, actor: str = "system") -> int:
    """Remove every mailbox scheduled for removal whose renewal date has come (set-based)."""
    due = session.scalars(
        select(Mailbox)
        .where(Mailbox.status == MailboxStatus.REMOVAL_SCHEDULED, Mailbox.expires_at <= now)
        .with_for_update()
    ).all()
    if not due:
        return 0
    transitions.move_where(
        session,
        [m.id for m in due],
        MailboxStatus.REMOVAL_SCHEDULED,
        MailboxStatus.REMOVED,
        actor=actor,
        reason="renewal date reached",
        now=now,
    )
    by_backend: dict[str, list[Mailbox]] = defaultdict(list)
    for mailbox in due:
        by_backend[mailbox.backend].append(mailbox)
    for backend, mailboxes in by_backend.items():
        backend_for(backend).deprovision(session, mailboxes, actor=actor)
    for mailbox in due:
        session.expire(mailbox)
    return len(due)
