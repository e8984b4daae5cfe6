"""Mailboxes as customers manage them: list, read, credentials, edit, removal."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import get_scoped, scoped_columns
from mailfleet.events import service as events
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.pagination import contains_pattern, paginate, split_page
from mailfleet.mailboxes import rules
from mailfleet.mailboxes.backends import backend_for
from mailfleet.models import Domain, Mailbox, MailboxStatus, MailboxType
from mailfleet.orders import status as order_status

# What a mailbox list shows (schemas.Mailbox); never a secret column.
LIST_COLUMNS = [
    getattr(Mailbox, name)
    for name in (
        "id",
        "address",
        "username",
        "first_name",
        "last_name",
        "mailbox_type",
        "backend",
        "status",
        "domain_id",
        "order_id",
        "failure_reason",
        "expires_at",
        "remove_at_renewal",
        "created_at",
        "updated_at",
        "activated_at",
        "removed_at",
    )
]


def record_transition(
    session: Session,
    mailbox: Mailbox,
    previous: MailboxStatus,
    *,
    actor: str,
    reason: str | None = None,
) -> None:
    events.record(
        session,
        workspace_id=mailbox.workspace_id,
        type="mailbox.status_changed",
        subject_type="mailbox",
        subject_id=mailbox.id,
        actor=actor,
        previous=previous.value,
        status=mailbox.status.value,
        reason=reason,
    )


def list_mailboxes(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    statuses: list[MailboxStatus] | None,
    mailbox_type: MailboxType | None,
    domain_id: uuid.UUID | None,
    text: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Row[Any]], str | None]:
    # Plain rows of the listed columns: building ORM objects cost more than the query itself.
    statement = scoped_columns(Mailbox, workspace_id, *LIST_COLUMNS)
    if statuses:
        statement = statement.where(Mailbox.status.in_(statuses))
    if mailbox_type is not None:
        statement = statement.where(Mailbox.mailbox_type == mailbox_type)
    if domain_id is not None:
        statement = statement.where(Mailbox.domain_id == domain_id)
    if text and text.strip():
        pattern = contains_pattern(text)
        statement = statement.where(Mailbox.address.like(pattern, escape="\\"))
    rows = session.execute(paginate(statement, Mailbox.id, cursor, limit)).all()
    return split_page(rows, limit, lambda m: m.id)


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


def credentials(
    session: Session, secrets: SecretBox, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID
) -> Credentials:
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id)
    # A provisioning mailbox already has its password stored (see provisioning.start) but is
    # not usable yet.
    not_ready = (MailboxStatus.PENDING, MailboxStatus.PROVISIONING, MailboxStatus.FAILED)
    if mailbox.password_enc is None or mailbox.status in not_ready:
        raise Conflict(
            "This mailbox has no credentials yet; they exist once it is ACTIVE.",
            code="mailbox_not_active",
        )
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
            type="mailbox.updated",
            subject_type="mailbox",
            subject_id=mailbox.id,
            actor=actor,
            fields=sorted(changed),
        )
        session.flush()
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
    previous = mailbox.status
    now = clock.now()
    mailbox.status = MailboxStatus.REMOVED
    mailbox.removed_at = now
    mailbox.updated_at = now
    record_transition(session, mailbox, previous, actor=actor, reason="removed")
    backend_for(mailbox.backend).deprovision(session, [mailbox], actor=actor)
    if mailbox.order_id is not None:
        order_status.refresh(session, [mailbox.order_id], actor=actor)
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
    mailbox.status = MailboxStatus.REMOVAL_SCHEDULED
    mailbox.remove_at_renewal = True
    mailbox.updated_at = clock.now()
    record_transition(
        session, mailbox, MailboxStatus.ACTIVE, actor=actor, reason="removal scheduled"
    )
    return mailbox


def cancel_scheduled_removal(
    session: Session, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID, actor: str
) -> Mailbox:
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id, for_update=True)
    if mailbox.status != MailboxStatus.REMOVAL_SCHEDULED:
        raise Conflict("This mailbox is not scheduled for removal.", code="removal_not_scheduled")
    mailbox.status = MailboxStatus.ACTIVE
    mailbox.remove_at_renewal = False
    mailbox.updated_at = clock.now()
    record_transition(
        session,
        mailbox,
        MailboxStatus.REMOVAL_SCHEDULED,
        actor=actor,
        reason="scheduled removal cancelled",
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
    ids = [m.id for m in due]
    session.execute(
        update(Mailbox)
        .where(Mailbox.id.in_(ids))
        .values(status=MailboxStatus.REMOVED, removed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    by_workspace: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    by_backend: dict[str, list[Mailbox]] = defaultdict(list)
    for mailbox in due:
        by_workspace[mailbox.workspace_id].append(mailbox.id)
        by_backend[mailbox.backend].append(mailbox)
    for workspace_id, mailbox_ids in by_workspace.items():
        events.record_many(
            session,
            workspace_id=workspace_id,
            type="mailbox.status_changed",
            subject_type="mailbox",
            subject_ids=mailbox_ids,
            actor=actor,
            previous=MailboxStatus.REMOVAL_SCHEDULED.value,
            status=MailboxStatus.REMOVED.value,
            reason="renewal date reached",
        )
    for backend, mailboxes in by_backend.items():
        backend_for(backend).deprovision(session, mailboxes, actor=actor)
    order_ids = {m.order_id for m in due if m.order_id is not None}
    for mailbox in due:
        session.expire(mailbox)
    order_status.refresh(session, order_ids, actor=actor)
    return len(due)
