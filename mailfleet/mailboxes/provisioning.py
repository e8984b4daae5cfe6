"""Steps of automated provisioning: PENDING -> PROVISIONING -> ACTIVE, or FAILED with a reason.

Each step is one short transaction for a whole chunk of mailboxes (the caller owns it), made of
a few set-based statements; provider calls happen between them. The password is generated and
stored (encrypted) before the provider is called, so a job that dies after the provider created
the mailbox can finish later with the same credentials.

Who works on a mailbox: whoever moved it out of PENDING, until its lease (`next_check_at`) runs
out. A job takes the mailboxes it was given that are still PENDING, those whose lease is over,
and those the sweep leased for it (`claimed_until`, the lease the sweep set: a later lease is
someone else's). It may also take other PENDING mailboxes (`fill`), so that orders arriving
one by one are provisioned in chunks; their own jobs then find them taken and skip them.

Where: a mailbox leaving PENDING records the account its backend resolves to for its workspace
(`installation_id`: the workspace's installation of that provider, None for the deployment's),
and every later call for it goes to that account (integrations.resolve.provider_by_id).
"""

from __future__ import annotations

import secrets as random
import string
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.integrations import resolve
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes import transitions
from mailfleet.mailboxes.backends import AUTOMATED
from mailfleet.mailboxes.providers.base import MailboxProviderError, ProvisionedMailbox
from mailfleet.mailboxes.providers.registry import MAILBOX_PROVIDERS
from mailfleet.models import Domain, Mailbox, MailboxStatus

ACTOR = "system:mailboxes"
WAITING = (MailboxStatus.PENDING, MailboxStatus.PROVISIONING)
PROVISIONING, ACTIVE, FAILED = (
    MailboxStatus.PROVISIONING,
    MailboxStatus.ACTIVE,
    MailboxStatus.FAILED,
)
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
    workspace_id: uuid.UUID
    # The account it is made at: the workspace's installation, or None for the deployment's.
    installation_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Claim:
    ids: list[uuid.UUID]
    until: datetime  # the lease set on them: the job's proof that they are still its own


def claim_due(session: Session, settings: Settings, *, limit: int) -> Claim:
    """Take automated mailboxes whose next attempt is due, for one job."""
    now = clock.now()
    until = now + timedelta(seconds=settings.job_lease_seconds)
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
            .values(next_check_at=until)
            .execution_options(synchronize_session=False)
        )
    return Claim(ids, until)


def start(
    session: Session,
    settings: Settings,
    box: SecretBox,
    ids: Sequence[uuid.UUID],
    *,
    claimed_until: datetime | None = None,
    fill: int = 0,
    fill_backends: Collection[str] = (),
) -> list[ProvisionTask]:
    """Mark the mailboxes this job may work on PROVISIONING (with their password stored) and
    return the work: those of `ids` that are its own (module docstring), and up to `fill` in all
    with other PENDING mailboxes of `fill_backends`."""
    now = clock.now()
    own_until = max(now, claimed_until) if claimed_until is not None else now
    own = list(
        session.scalars(
            select(Mailbox.id)
            .where(
                Mailbox.id.in_(ids),
                Mailbox.status.in_(WAITING),
                or_(
                    Mailbox.status == MailboxStatus.PENDING,
                    Mailbox.next_check_at.is_(None),
                    Mailbox.next_check_at <= own_until,
                ),
            )
            # One lock order for every job: two jobs given the same ids cannot deadlock.
            .order_by(Mailbox.id)
            .with_for_update()
        )
    )
    more: list[uuid.UUID] = []
    if fill > len(own) and fill_backends:
        more = list(
            session.scalars(
                select(Mailbox.id)
                .where(
                    Mailbox.status == MailboxStatus.PENDING,
                    Mailbox.backend.in_(list(fill_backends)),
                    # Every waiting automated mailbox has one; lets the index skip the rest.
                    Mailbox.next_check_at.is_not(None),
                    Mailbox.id.not_in(ids),
                )
                .order_by(Mailbox.next_check_at)
                .limit(fill - len(own))
                # Taken by another job's open transaction: leave them to it.
                .with_for_update(skip_locked=True)
            )
        )
    if not own and not more:
        return []
    rows = session.execute(
        select(
            Mailbox.id,
            Mailbox.workspace_id,
            Mailbox.order_id,
            Mailbox.status,
            Mailbox.backend,
            Mailbox.address,
            Mailbox.first_name,
            Mailbox.last_name,
            Mailbox.password_enc,
            Mailbox.installation_id,
            Domain.name,
        )
        .join(Domain, Domain.id == Mailbox.domain_id)
        .where(Mailbox.id.in_(own + more))
        .order_by(Mailbox.id)
    ).all()
    lease = now + timedelta(seconds=settings.job_lease_seconds)
    tasks: list[ProvisionTask] = []
    moves: list[transitions.Move] = []
    # Taken again after a lost job's lease: still PROVISIONING, only the lease changes.
    releases: list[dict[str, Any]] = []
    accounts: dict[tuple[uuid.UUID, str], uuid.UUID | None] = {}
    for row in rows:
        password_enc = row.password_enc or box.encrypt(new_password())
        values = {"password_enc": password_enc, "next_check_at": lease, "updated_at": now}
        installation_id = row.installation_id
        if row.status == MailboxStatus.PENDING:
            # Chosen once, when the mailbox leaves PENDING; a retry keeps the account it was
            # first sent to.
            installation_id = _account(session, settings, accounts, row.workspace_id, row.backend)
            values["installation_id"] = installation_id
            moves.append(
                transitions.Move(
                    row.id,
                    row.workspace_id,
                    row.order_id,
                    row.status,
                    MailboxStatus.PROVISIONING,
                    values=values,
                )
            )
        else:
            releases.append({"id": row.id, **values})
        tasks.append(
            ProvisionTask(
                row.id,
                row.backend,
                row.name,
                row.address,
                row.first_name,
                row.last_name,
                box.decrypt(password_enc),
                row.workspace_id,
                installation_id,
            )
        )
    if releases:
        session.execute(update(Mailbox), releases)
    transitions.move_rows(session, moves, actor=ACTOR)
    return tasks


def _account(
    session: Session,
    settings: Settings,
    known: dict[tuple[uuid.UUID, str], uuid.UUID | None],
    workspace_id: uuid.UUID,
    backend: str,
) -> uuid.UUID | None:
    """The workspace's installation of the backend's provider (None: the deployment's), one
    query per workspace and backend of the chunk."""
    key = (workspace_id, backend)
    if key not in known:
        binding = resolve.binding_for(session, settings, MAILBOX_PROVIDERS, workspace_id, backend)
        known[key] = binding.installation_id
    return known[key]


def finish(
    session: Session,
    settings: Settings,
    box: SecretBox,
    results: Sequence[tuple[uuid.UUID, ProvisionedMailbox | MailboxProviderError]],
) -> None:
    """Record what the provider answered for each mailbox of a chunk: ACTIVE with its
    credentials, a retry after a backoff, or FAILED with the reason."""
    if not results:
        return
    # Removed (or completed by an operator) while the provider worked: nothing left to do.
    current = {
        row.id: row
        for row in session.execute(
            select(Mailbox.id, Mailbox.workspace_id, Mailbox.order_id, Mailbox.provision_attempts)
            .where(
                Mailbox.id.in_([mailbox_id for mailbox_id, _ in results]),
                Mailbox.status == MailboxStatus.PROVISIONING,
            )
            .order_by(Mailbox.id)
            .with_for_update()
        )
    }
    now = clock.now()
    steps = settings.mailbox_provision_backoff or [60]
    moves: list[transitions.Move] = []
    retries: list[dict[str, Any]] = []
    for mailbox_id, result in results:
        # Popped: a mailbox listed twice is recorded once.
        row = current.pop(mailbox_id, None)
        if row is None:
            continue
        if isinstance(result, ProvisionedMailbox):
            moves.append(_activated(row, result, box))
            continue
        attempts = row.provision_attempts + 1
        error = str(result)
        if result.retryable and attempts < settings.mailbox_provision_max_attempts:
            wait = steps[min(attempts - 1, len(steps) - 1)]
            retries.append(
                {
                    "id": mailbox_id,
                    "provision_attempts": attempts,
                    "next_check_at": now + timedelta(seconds=wait),
                    "failure_reason": f"Provider unavailable, retrying: {error}"[:1000],
                    "updated_at": now,
                }
            )
            continue
        reason = error if not result.retryable else f"Gave up after {attempts} tries: {error}"
        values = {"provision_attempts": attempts, "failure_reason": reason[:1000]}
        moves.append(
            transitions.Move(
                mailbox_id, row.workspace_id, row.order_id, PROVISIONING, FAILED, reason, values
            )
        )
    if retries:
        # Bulk UPDATE by primary key: one executemany per set of columns.
        session.execute(update(Mailbox), retries)
    transitions.move_rows(session, moves, actor=ACTOR)


def _activated(row: Any, result: ProvisionedMailbox, box: SecretBox) -> transitions.Move:
    """PROVISIONING -> ACTIVE with what the provider handed back."""
    connection = result.connection
    values = {
        "provider_user_id": result.provider_user_id,
        "app_password_enc": box.encrypt_optional(result.app_password),
        "totp_secret_enc": box.encrypt_optional(result.totp_secret),
        "smtp_host": connection.smtp_host,
        "smtp_port": connection.smtp_port,
        "smtp_security": connection.smtp_security,
        "imap_host": connection.imap_host,
        "imap_port": connection.imap_port,
        "imap_security": connection.imap_security,
    }
    return transitions.Move(
        row.id, row.workspace_id, row.order_id, PROVISIONING, ACTIVE, None, values
    )
