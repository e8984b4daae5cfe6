"""Which mailboxes an export takes: ids, or a filter, minus excluded ids; and which of them
cannot go at all (and why), decided before anything counts toward the re-export limit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import scoped_columns
from mailfleet.exports.apps.protocol import Sequencer
from mailfleet.kit.pagination import contains_pattern
from mailfleet.models import Domain, Mailbox, MailboxStatus, MailboxType

CHUNK = 500


@dataclass(frozen=True)
class Filter:
    domain_id: uuid.UUID | None = None
    tag: str | None = None
    status: MailboxStatus | None = None
    mailbox_type: MailboxType | None = None
    text: str | None = None


@dataclass(frozen=True)
class Candidate:
    id: uuid.UUID
    address: str
    # Why it is not exported (recorded SKIPPED), or None.
    skip: str | None


_COLUMNS = (
    Mailbox.id,
    Mailbox.address,
    Mailbox.status,
    Mailbox.mailbox_type,
    Mailbox.password_enc,
    Mailbox.smtp_host,
    Mailbox.imap_host,
)


def select_mailboxes(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    ids: Sequence[uuid.UUID] | None,
    where: Filter | None,
    exclude: Sequence[uuid.UUID],
    sequencer: Sequencer | None,
) -> list[Candidate]:
    """The workspace's mailboxes chosen, oldest first; ids of other workspaces match nothing."""
    excluded = set(exclude)
    rows: list[tuple[object, ...]] = []
    if ids is not None:
        wanted = list(dict.fromkeys(i for i in ids if i not in excluded))
        for start in range(0, len(wanted), CHUNK):
            statement = scoped_columns(Mailbox, workspace_id, *_COLUMNS).where(
                Mailbox.id.in_(wanted[start : start + CHUNK])
            )
            rows.extend(tuple(row) for row in session.execute(statement))
    else:
        statement = _filtered(session, workspace_id, where or Filter())
        rows = [tuple(row) for row in session.execute(statement) if row[0] not in excluded]
    rows.sort(key=lambda row: row[0])  # type: ignore[arg-type, return-value]
    return [_candidate(row, sequencer) for row in rows]


def _filtered(session: Session, workspace_id: uuid.UUID, where: Filter) -> Select[Any]:
    tagged = tagged_domains(session, workspace_id, where.tag) if where.tag is not None else None
    return filtered(workspace_id, where, tagged, scoped_columns(Mailbox, workspace_id, *_COLUMNS))


def filtered(
    workspace_id: uuid.UUID,
    where: Filter,
    tagged: list[uuid.UUID] | None,
    statement: Select[Any],
) -> Select[Any]:
    """`statement` over mailboxes narrowed to the workspace and the filter (`tagged`: the
    domains carrying the filter's tag, from `tagged_domains`)."""
    statement = statement.where(Mailbox.workspace_id == workspace_id)
    if where.status is not None:
        statement = statement.where(Mailbox.status == where.status)
    else:
        # Removed mailboxes are only exported when asked for by status or id.
        statement = statement.where(Mailbox.status != MailboxStatus.REMOVED)
    if where.mailbox_type is not None:
        statement = statement.where(Mailbox.mailbox_type == where.mailbox_type)
    if where.domain_id is not None:
        statement = statement.where(Mailbox.domain_id == where.domain_id)
    if where.text and where.text.strip():
        statement = statement.where(Mailbox.address.like(contains_pattern(where.text), escape="\\"))
    if tagged is not None:
        statement = statement.where(Mailbox.domain_id.in_(tagged))
    return statement


def tagged_domains(session: Session, workspace_id: uuid.UUID, tag: str) -> list[uuid.UUID]:
    # Tags are a JSON list per domain; matching in Python keeps one query for both backends.
    statement = select(Domain.id, Domain.tags).where(Domain.workspace_id == workspace_id)
    return [domain_id for domain_id, tags in session.execute(statement) if tag in (tags or [])]


def _candidate(row: tuple[object, ...], sequencer: Sequencer | None) -> Candidate:
    mailbox_id, address, status, mailbox_type, password_enc, smtp_host, imap_host = row
    assert isinstance(mailbox_id, uuid.UUID)
    assert isinstance(address, str)
    skip: str | None = None
    if status != MailboxStatus.ACTIVE:
        skip = f"The mailbox is {status}, not ACTIVE."
    elif password_enc is None or not smtp_host or not imap_host:
        skip = "The mailbox has no SMTP/IMAP credentials."
    elif sequencer is not None:
        assert isinstance(mailbox_type, MailboxType)
        skip = sequencer.skip_reason(mailbox_type)
    return Candidate(mailbox_id, address, skip)
