"""Removal of many mailboxes in one call, by id or all of a workspace's (Zapmail's removal
endpoints): every id is checked first, so an unknown one refuses the whole call and nothing
changes; then each mailbox goes through the same single-mailbox rule (`service`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.exceptions import NotFound
from mailfleet.mailboxes import service
from mailfleet.models import Domain, Mailbox, MailboxStatus


def _resolve(
    session: Session,
    workspace_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    every: Sequence[MailboxStatus],
) -> list[uuid.UUID]:
    """`ids` if each is the workspace's (404 naming the first that is not); none given: every
    mailbox of the workspace in one of `every`."""
    statement = select(Mailbox.id).where(Mailbox.workspace_id == workspace_id)
    if not ids:
        found = session.scalars(statement.where(Mailbox.status.in_(every)).order_by(Mailbox.id))
        return list(found)
    wanted = list(dict.fromkeys(ids))
    known = set(session.scalars(statement.where(Mailbox.id.in_(wanted))))
    for mailbox_id in wanted:
        if mailbox_id not in known:
            raise NotFound(
                f"Mailbox {mailbox_id} not found.", code="mailbox_not_found", field="mailboxIds"
            )
    return sorted(wanted)


def schedule_removals(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    remove: bool,
    actor: str,
) -> int:
    """Schedule removal at renewal (or cancel it, `remove=False`) for `ids`, or with no ids for
    every ACTIVE mailbox (every scheduled one when cancelling). Returns how many moved."""
    every = [MailboxStatus.ACTIVE] if remove else [MailboxStatus.REMOVAL_SCHEDULED]
    moved = 0
    for mailbox_id in _resolve(session, workspace_id, ids, every):
        if remove:
            service.schedule_removal(
                session, workspace_id=workspace_id, mailbox_id=mailbox_id, actor=actor
            )
        else:
            service.cancel_scheduled_removal(
                session, workspace_id=workspace_id, mailbox_id=mailbox_id, actor=actor
            )
        moved += 1
    return moved


def remove_instantly(
    session: Session, *, workspace_id: uuid.UUID, ids: Sequence[uuid.UUID], actor: str
) -> int:
    """Remove `ids` now (their slots stay held until renewal); returns how many were queued."""
    live = [MailboxStatus.ACTIVE, MailboxStatus.SUSPENDED, MailboxStatus.REMOVAL_SCHEDULED]
    queued = 0
    for mailbox_id in _resolve(session, workspace_id, ids, live):
        service.remove_now(session, workspace_id=workspace_id, mailbox_id=mailbox_id, actor=actor)
        queued += 1
    return queued


def failed_on_domains(
    session: Session, *, workspace_id: uuid.UUID, domain_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """The FAILED mailboxes of the workspace's `domain_ids` (404 naming a domain that is not
    the workspace's)."""
    wanted = list(dict.fromkeys(domain_ids))
    known = set(
        session.scalars(
            select(Domain.id).where(Domain.workspace_id == workspace_id, Domain.id.in_(wanted))
        )
    )
    for domain_id in wanted:
        if domain_id not in known:
            raise NotFound(
                f"Domain {domain_id} not found.", code="domain_not_found", field="domainIds"
            )
    return list(
        session.scalars(
            select(Mailbox.id)
            .where(Mailbox.domain_id.in_(wanted), Mailbox.status == MailboxStatus.FAILED)
            .order_by(Mailbox.id)
        )
    )
