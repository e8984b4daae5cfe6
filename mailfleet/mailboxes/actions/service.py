"""Actions on one mailbox beyond editing it: its authenticator code, and retrying a failed one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import get_scoped
from mailfleet.billing import slots
from mailfleet.config import Settings
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes import pictures, rules, transitions
from mailfleet.mailboxes.backends import backend_for
from mailfleet.mailboxes.backends.automated import sync_profile_after_commit
from mailfleet.mailboxes.totp import UnusableSecret, decode_secret, hotp
from mailfleet.models import Domain, DomainStatus, Mailbox, MailboxStatus
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES

TOTP_PERIOD = 30
EDITABLE = (
    MailboxStatus.PENDING,
    MailboxStatus.PROVISIONING,
    MailboxStatus.ACTIVE,
    MailboxStatus.SUSPENDED,
    MailboxStatus.REMOVAL_SCHEDULED,
)


def set_picture(
    session: Session,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    mailbox_id: uuid.UUID,
    image: bytes,
    actor: str,
) -> Mailbox:
    content_type = pictures.content_type_of(image)
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id, for_update=True)
    if mailbox.status not in EDITABLE:
        raise Conflict(
            f"A {mailbox.status.value} mailbox cannot be changed.", code="mailbox_not_editable"
        )
    pictures.store(settings, mailbox.id, image)
    mailbox.profile_picture_url = f"/v1/mailboxes/{mailbox.id}/picture"
    mailbox.updated_at = clock.now()
    events.record(
        session,
        workspace_id=workspace_id,
        type=EventType.MAILBOX_UPDATED,
        subject_type="mailbox",
        subject_id=mailbox.id,
        actor=actor,
        fields=["profile_picture"],
        content_type=content_type,
    )
    sync_profile_after_commit(session, mailbox, old_address=mailbox.address, photo=True)
    return mailbox


def picture(
    session: Session, settings: Settings, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID
) -> tuple[bytes, str]:
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id)
    return pictures.load(settings, mailbox.id)


@dataclass(frozen=True)
class AuthenticatorCode:
    code: str
    expires_in: int
    period: int


def authenticator_code(secret: str, at: datetime) -> AuthenticatorCode:
    """The RFC 6238 code (SHA-1, 6 digits, 30 s: what Google and Microsoft use) at `at`."""
    timestamp = int(at.timestamp())
    code = hotp(decode_secret(secret), timestamp // TOTP_PERIOD)
    return AuthenticatorCode(code, TOTP_PERIOD - timestamp % TOTP_PERIOD, TOTP_PERIOD)


def current_code(
    session: Session, secrets: SecretBox, *, workspace_id: uuid.UUID, mailbox_id: uuid.UUID
) -> AuthenticatorCode:
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id)
    if mailbox.totp_secret_enc is None:
        raise Conflict("This mailbox has no authenticator secret.", code="no_totp_secret")
    try:
        return authenticator_code(secrets.decrypt(mailbox.totp_secret_enc), clock.now())
    except UnusableSecret as exc:
        # Stored before input was checked as strictly as now: say so instead of failing.
        raise Conflict(
            "This mailbox's authenticator secret is not valid base32; set a new one.",
            code="unusable_totp_secret",
        ) from exc


def retry_failed(
    session: Session,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    mailbox_id: uuid.UUID,
    actor: str,
) -> Mailbox:
    """A FAILED mailbox goes back to PENDING and to its backend, if its place is still free.

    A failed mailbox gave up its place on the domain and its quota slot, so both are checked
    again (under the same locks as a new order); the 24-hour and Microsoft pacing rules are
    not: this is the same order, tried again.
    """
    probe = get_scoped(session, Mailbox, workspace_id, mailbox_id)
    # Lock order: the pool's Allocation rows, then Domain, then the mailbox (as orders do).
    allocation = slots.lock_pool(session, workspace_id, probe.mailbox_type, clock.now())
    domain = session.scalars(
        select(Domain).where(Domain.id == probe.domain_id).with_for_update()
    ).one()
    mailbox = get_scoped(session, Mailbox, workspace_id, mailbox_id, for_update=True)
    if mailbox.status != MailboxStatus.FAILED:
        raise Conflict(
            f"Only a FAILED mailbox can be retried; this one is {mailbox.status.value}.",
            code="mailbox_not_failed",
        )
    if domain.status != DomainStatus.ACTIVE:
        raise Conflict(
            f"{domain.name} is {domain.status.value}, not ACTIVE.", code="domain_not_active"
        )
    _check_domain_place(session, settings, domain, mailbox)
    rules.check_quota(session, allocation, workspace_id, mailbox.mailbox_type, 1, clock.now())
    rules.check_usernames_free(session, domain.id, [mailbox.username], field="username")
    transitions.move(session, mailbox, MailboxStatus.PENDING, actor=actor, reason="retry")
    backend_for(mailbox.backend).provision(session, [mailbox], actor=actor)
    return mailbox


def _check_domain_place(
    session: Session, settings: Settings, domain: Domain, mailbox: Mailbox
) -> None:
    limit = settings.domain_limit(mailbox.mailbox_type)
    used = session.scalar(
        select(func.count())
        .select_from(Mailbox)
        .where(Mailbox.domain_id == domain.id, Mailbox.status.in_(DOMAIN_SLOT_STATUSES))
    )
    if (used or 0) + 1 > limit:
        raise Conflict(
            f"{domain.name} already holds {used} of {limit} {mailbox.mailbox_type.value} "
            "mailboxes; remove one before retrying.",
            code="domain_mailbox_limit",
        )
