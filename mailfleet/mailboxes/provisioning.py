"""Steps of automated provisioning: PENDING -> PROVISIONING -> ACTIVE, or FAILED with a reason.

Each step is one short transaction (the caller owns it); provider calls happen between them.
The password is generated and stored (encrypted) before the provider is called, so a job that
dies after the provider created the mailbox can finish later with the same credentials.
"""

from __future__ import annotations

import secrets as random
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes.backends import AUTOMATED
from mailfleet.mailboxes.providers.base import ProvisionedMailbox
from mailfleet.mailboxes.service import record_transition
from mailfleet.models import Domain, Mailbox, MailboxStatus
from mailfleet.orders import status as order_status

ACTOR = "system:mailboxes"
WAITING = (MailboxStatus.PENDING, MailboxStatus.PROVISIONING)
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "!@#%^*-_=+"


def new_password(length: int = 20) -> str:
    """Random, with every character class present (providers' password policies ask for it)."""
    while True:
        password = "".join(random.choice(PASSWORD_ALPHABET) for _ in range(length))
        classes = (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
        if all(any(test(c) for c in password) for test in classes):
            return password


@dataclass(frozen=True)
class ProvisionTask:
    mailbox_id: uuid.UUID
    backend: str
    domain: str
    address: str
    first_name: str
    last_name: str
    password: str


def claim_due(session: Session, settings: Settings, *, limit: int) -> list[uuid.UUID]:
    """Take automated mailboxes whose next attempt is due, for one job."""
    now = clock.now()
    ids = list(
        session.scalars(
            select(Mailbox.id)
            .where(
                Mailbox.status.in_(WAITING),
                Mailbox.backend.in_(AUTOMATED),
                Mailbox.next_check_at <= now,
            )
            .order_by(Mailbox.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(Mailbox)
            .where(Mailbox.id.in_(ids))
            .values(next_check_at=now + timedelta(seconds=settings.job_lease_seconds))
            .execution_options(synchronize_session=False)
        )
    return ids


def start(
    session: Session, settings: Settings, box: SecretBox, ids: Sequence[uuid.UUID]
) -> list[ProvisionTask]:
    """Mark these mailboxes PROVISIONING (with their password stored) and return the work."""
    rows = session.execute(
        select(Mailbox, Domain.name)
        .join(Domain, Domain.id == Mailbox.domain_id)
        .where(Mailbox.id.in_(ids), Mailbox.status.in_(WAITING))
        .order_by(Mailbox.id)
        .with_for_update(of=Mailbox)
    ).all()
    now = clock.now()
    lease = now + timedelta(seconds=settings.job_lease_seconds)
    tasks = []
    for mailbox, domain_name in rows:
        if mailbox.password_enc is None:
            mailbox.password_enc = box.encrypt(new_password())
        if mailbox.status == MailboxStatus.PENDING:
            mailbox.status = MailboxStatus.PROVISIONING
            mailbox.updated_at = now
            record_transition(session, mailbox, MailboxStatus.PENDING, actor=ACTOR)
        mailbox.next_check_at = lease
        tasks.append(
            ProvisionTask(
                mailbox.id,
                mailbox.backend,
                domain_name,
                mailbox.address,
                mailbox.first_name,
                mailbox.last_name,
                box.decrypt(mailbox.password_enc),
            )
        )
    _refresh_orders(session, [mailbox for mailbox, _ in rows])
    return tasks


def complete(
    session: Session, box: SecretBox, task: ProvisionTask, result: ProvisionedMailbox
) -> Mailbox | None:
    mailbox = _locked(session, task.mailbox_id)
    if mailbox is None:
        return None
    connection = result.connection
    now = clock.now()
    mailbox.provider_user_id = result.provider_user_id
    mailbox.app_password_enc = box.encrypt_optional(result.app_password)
    mailbox.totp_secret_enc = box.encrypt_optional(result.totp_secret)
    mailbox.smtp_host, mailbox.smtp_port = connection.smtp_host, connection.smtp_port
    mailbox.imap_host, mailbox.imap_port = connection.imap_host, connection.imap_port
    mailbox.smtp_security, mailbox.imap_security = (
        connection.smtp_security,
        connection.imap_security,
    )
    mailbox.status = MailboxStatus.ACTIVE
    mailbox.activated_at = now
    mailbox.failure_reason = None
    mailbox.next_check_at = None
    mailbox.updated_at = now
    record_transition(session, mailbox, MailboxStatus.PROVISIONING, actor=ACTOR)
    _refresh_orders(session, [mailbox])
    return mailbox


def failed(
    session: Session, settings: Settings, mailbox_id: uuid.UUID, error: str, *, retryable: bool
) -> None:
    mailbox = _locked(session, mailbox_id)
    if mailbox is None:
        return
    now = clock.now()
    mailbox.provision_attempts += 1
    steps = settings.mailbox_provision_backoff or [60]
    if retryable and mailbox.provision_attempts < settings.mailbox_provision_max_attempts:
        wait = steps[min(mailbox.provision_attempts - 1, len(steps) - 1)]
        mailbox.next_check_at = now + timedelta(seconds=wait)
        mailbox.failure_reason = f"Provider unavailable, retrying: {error}"
        return
    reason = (
        error if not retryable else f"Gave up after {mailbox.provision_attempts} tries: {error}"
    )
    mailbox.status = MailboxStatus.FAILED
    mailbox.failure_reason = reason[:1000]
    mailbox.next_check_at = None
    mailbox.updated_at = now
    record_transition(session, mailbox, MailboxStatus.PROVISIONING, actor=ACTOR, reason=reason)
    _refresh_orders(session, [mailbox])


def _locked(session: Session, mailbox_id: uuid.UUID) -> Mailbox | None:
    mailbox = session.scalars(
        select(Mailbox).where(Mailbox.id == mailbox_id).with_for_update()
    ).first()
    # Removed (or completed by an operator) while the provider worked: nothing left to do here.
    if mailbox is None or mailbox.status != MailboxStatus.PROVISIONING:
        return None
    return mailbox


def _refresh_orders(session: Session, mailboxes: Sequence[Mailbox]) -> None:
    order_ids = [m.order_id for m in mailboxes if m.order_id is not None]
    order_status.refresh(session, order_ids, actor=ACTOR)
