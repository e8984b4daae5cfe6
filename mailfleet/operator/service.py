"""Operator fulfilment: manual domain status and the manual mailbox backend.

Allocations are billing's (`billing.service`); the operator routes call it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.dns import tasks as dns_tasks
from mailfleet.domains import lifecycle
from mailfleet.domains import tasks as domain_tasks
from mailfleet.exceptions import Conflict, NotFound, Unprocessable
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.pagination import decode_cursor, split_page
from mailfleet.mailboxes import transitions as mailbox_transitions
from mailfleet.models import (
    Domain,
    DomainStatus,
    Mailbox,
    MailboxOrder,
    MailboxStatus,
    OrderStatus,
)
from mailfleet.orders.service import OrderView, with_mailboxes


def set_domain_status(
    session: Session,
    settings: Settings,
    *,
    domain_id: uuid.UUID,
    status: DomainStatus,
    reason: str | None,
    actor: str,
) -> Domain:
    """Manual DNS backend: the operator marks a domain ACTIVE or FAILED.

    ACTIVE goes live the way a verified delegation does: the zone is created if need be and the
    type's records are published, in jobs after the commit.
    """
    if status not in (DomainStatus.ACTIVE, DomainStatus.FAILED):
        raise Unprocessable("Set ACTIVE or FAILED.", code="invalid_status", field="status")
    if status == DomainStatus.FAILED and not (reason and reason.strip()):
        raise Unprocessable(
            "A FAILED domain needs a reason.", code="reason_required", field="reason"
        )
    domain = session.scalars(select(Domain).where(Domain.id == domain_id).with_for_update()).first()
    if domain is None:
        raise NotFound(f"Domain {domain_id} not found.", code="domain_not_found")
    if domain.status == DomainStatus.REMOVED:
        raise Conflict("The domain was removed.", code="domain_removed")
    # Marking it again what it is only restamps it (and goes live again): no event.
    lifecycle.move(session, domain, status, actor=actor, reason=reason)
    domain.next_check_at = None
    if status == DomainStatus.ACTIVE:
        _go_live(session, settings, domain)
    session.flush()
    return domain


def _go_live(session: Session, settings: Settings, domain: Domain) -> None:
    """What the automatic path does for a delegated domain, after this commits: the zone (and
    with it every record of the domain's type) when it has none yet, else the records."""
    # A claim on the domain for the job's lease, so the sweep does not race the job; when the
    # job is lost the sweep's health check creates the zone (domains.tasks.check_health).
    domain.next_check_at = lifecycle.lease_until(settings, clock.now())
    if domain.zone_id is None:
        enqueue_after_commit(session, domain_tasks.CREATE, [str(domain.id)])
    else:
        enqueue_after_commit(session, dns_tasks.PUBLISH, [str(domain.id)])


def list_queue(
    session: Session, *, statuses: list[OrderStatus] | None, cursor: str | None, limit: int
) -> tuple[list[OrderView], str | None]:
    """Orders across workspaces, oldest first (the work queue)."""
    statement = select(MailboxOrder).where(
        MailboxOrder.status.in_(statuses or [OrderStatus.PENDING, OrderStatus.IN_PROGRESS])
    )
    if cursor:
        statement = statement.where(MailboxOrder.id > decode_cursor(cursor))
    rows = session.scalars(statement.order_by(MailboxOrder.id).limit(limit + 1)).all()
    page, next_cursor = split_page(rows, limit, lambda o: o.id)
    return with_mailboxes(session, page), next_cursor


def _order(session: Session, order_id: uuid.UUID) -> MailboxOrder:
    order = session.scalars(
        select(MailboxOrder).where(MailboxOrder.id == order_id).with_for_update()
    ).first()
    if order is None:
        raise NotFound(f"Mailbox order {order_id} not found.", code="mailbox_order_not_found")
    return order


def start_order(session: Session, *, order_id: uuid.UUID, actor: str) -> OrderView:
    """PENDING -> IN_PROGRESS; its PENDING mailboxes become PROVISIONING."""
    order = _order(session, order_id)
    if order.status != OrderStatus.PENDING:
        raise Conflict(
            f"Only a PENDING order can be started; this one is {order.status.value}.",
            code="order_not_pending",
        )
    ids = list(
        session.scalars(
            select(Mailbox.id).where(
                Mailbox.order_id == order.id, Mailbox.status == MailboxStatus.PENDING
            )
        )
    )
    mailbox_transitions.move_where(
        session,
        ids,
        MailboxStatus.PENDING,
        MailboxStatus.PROVISIONING,
        actor=actor,
        reason="order started",
    )
    return with_mailboxes(session, [order])[0]


def update_order_notes(
    session: Session, *, order_id: uuid.UUID, operator_notes: str | None
) -> OrderView:
    order = _order(session, order_id)
    order.operator_notes = operator_notes
    order.updated_at = clock.now()
    session.flush()
    return with_mailboxes(session, [order])[0]


@dataclass(frozen=True)
class Fulfilment:
    password: str
    app_password: str | None
    totp_secret: str | None
    smtp_host: str
    smtp_port: int
    imap_host: str
    imap_port: int
    notes: str | None


def _mailbox(session: Session, mailbox_id: uuid.UUID) -> Mailbox:
    mailbox = session.scalars(
        select(Mailbox).where(Mailbox.id == mailbox_id).with_for_update()
    ).first()
    if mailbox is None:
        raise NotFound(f"Mailbox {mailbox_id} not found.", code="mailbox_not_found")
    if mailbox.status not in (MailboxStatus.PENDING, MailboxStatus.PROVISIONING):
        raise Conflict(
            f"Only a PENDING or PROVISIONING mailbox can be fulfilled; this one is "
            f"{mailbox.status.value}.",
            code="mailbox_not_provisioning",
        )
    return mailbox


def complete_mailbox(
    session: Session,
    secrets: SecretBox,
    *,
    mailbox_id: uuid.UUID,
    fulfilment: Fulfilment,
    actor: str,
) -> Mailbox:
    mailbox = _mailbox(session, mailbox_id)
    mailbox.password_enc = secrets.encrypt(fulfilment.password)
    mailbox.app_password_enc = secrets.encrypt_optional(fulfilment.app_password)
    mailbox.totp_secret_enc = secrets.encrypt_optional(fulfilment.totp_secret)
    mailbox.smtp_host, mailbox.smtp_port = fulfilment.smtp_host, fulfilment.smtp_port
    mailbox.imap_host, mailbox.imap_port = fulfilment.imap_host, fulfilment.imap_port
    if fulfilment.notes is not None:
        mailbox.notes = fulfilment.notes
    mailbox_transitions.move(
        session, mailbox, MailboxStatus.ACTIVE, actor=actor, reason="fulfilled by operator"
    )
    return mailbox


def fail_mailbox(session: Session, *, mailbox_id: uuid.UUID, reason: str, actor: str) -> Mailbox:
    """The mailbox could not be created; it frees its domain place and quota slot."""
    mailbox = _mailbox(session, mailbox_id)
    mailbox_transitions.move(session, mailbox, MailboxStatus.FAILED, actor=actor, reason=reason)
    return mailbox
