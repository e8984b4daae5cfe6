"""Mailbox jobs: provision at the provider, deprovision, suspend and resume, and the sweeps that
retry them.

Every call for a mailbox goes to the account it was provisioned at (`Mailbox.installation_id`,
None for the deployment's; integrations.resolve.provider_by_id), never to an installation the
workspace added later."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.domains.service import APPLY_FORWARDING
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.integrations import resolve
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes import domain_setup, pictures, provisioning, suspension
from mailfleet.mailboxes.backends import AUTOMATED
from mailfleet.mailboxes.backends.automated import (
    DEPROVISION,
    PROVISION,
    RESUME,
    SUSPEND,
    SYNC_PROFILE,
)
from mailfleet.mailboxes.providers.base import (
    BatchMailboxProvider,
    MailboxProvider,
    MailboxProviderError,
    NewMailbox,
    ProvisionedMailbox,
)
from mailfleet.mailboxes.providers.registry import MAILBOX_PROVIDERS, provider_for
from mailfleet.mailboxes.service import apply_due_removals
from mailfleet.models import Domain, Mailbox, MailboxStatus, MailboxType

log = logging.getLogger(__name__)
# States in which the account exists at the provider.
SYNCABLE = (
    MailboxStatus.PROVISIONING,
    MailboxStatus.ACTIVE,
    MailboxStatus.SUSPENDED,
    MailboxStatus.REMOVAL_SCHEDULED,
)

Result = ProvisionedMailbox | MailboxProviderError


def _ids(values: Sequence[str]) -> list[uuid.UUID]:
    return [uuid.UUID(value) for value in values]


def _binding(session: Session, row: Any) -> resolve.Binding:
    """The account a mailbox row (workspace_id, backend, installation_id) was made at; built
    into its provider after the transaction, where a provider's error is handled."""
    return resolve.binding_by_id(
        session, MAILBOX_PROVIDERS, row.workspace_id, row.backend, row.installation_id
    )


@job(PROVISION)
def provision(
    runtime: Runtime, mailbox_ids: Sequence[str], claimed_until: str | None = None
) -> None:
    """Provision these mailboxes (and other waiting ones, up to a chunk) in one provider round
    per backend, recording the results in one transaction.

    `claimed_until` is the lease the sweep set when it claimed `mailbox_ids` (ISO 8601); jobs
    the orders enqueue have none (provisioning.py's docstring says who works on what).
    """
    settings, database = runtime.settings, runtime.database
    box = SecretBox.from_settings(settings)
    with database.transaction() as session:
        work = provisioning.start(
            session,
            settings,
            box,
            _ids(mailbox_ids),
            claimed_until=datetime.fromisoformat(claimed_until) if claimed_until else None,
            fill=settings.mailbox_provision_chunk,
            fill_backends=_batch_backends(settings),
        )
    if not work:
        return
    # One round per backend and account: the deployment's account takes every workspace's
    # mailboxes at once; an installation (one workspace's) only its own.
    by_account: dict[tuple[str, uuid.UUID | None], list[provisioning.ProvisionTask]] = {}
    for task in work:
        by_account.setdefault((task.backend, task.installation_id), []).append(task)
    results: list[tuple[uuid.UUID, Result]] = []
    for (backend, _), tasks in by_account.items():
        outcomes = _create(runtime, backend, tasks)
        _log_round(backend, tasks, outcomes)
        results.extend(zip([task.mailbox_id for task in tasks], outcomes, strict=True))
    with database.transaction() as session:
        provisioning.finish(session, settings, box, results)


# Addresses named in a round's log line; a round of a hundred stays one readable line.
LOGGED_ADDRESSES = 5


def _log_round(
    backend: str, tasks: Sequence[provisioning.ProvisionTask], outcomes: Sequence[Result]
) -> None:
    """One INFO line per provider round: which provider, which mailboxes, what came of them.

    Addresses and the provider's first error only: never a password, a TOTP secret or a token.
    """
    created = sum(isinstance(outcome, ProvisionedMailbox) for outcome in outcomes)
    errors = [outcome for outcome in outcomes if isinstance(outcome, MailboxProviderError)]
    retrying = sum(error.retryable for error in errors)
    addresses = [task.address for task in tasks]
    shown = ", ".join(addresses[:LOGGED_ADDRESSES])
    if len(addresses) > LOGGED_ADDRESSES:
        shown += f" and {len(addresses) - LOGGED_ADDRESSES} more"
    first_error = f"; first error: {str(errors[0])[:200]}" if errors else ""
    log.info(
        "provisioning round at %s: %d mailbox(es) (%s): %d created, %d to retry, %d refused%s",
        backend,
        len(tasks),
        shown,
        created,
        retrying,
        len(errors) - retrying,
        first_error,
    )


def _batch_backends(settings: Settings) -> list[str]:
    """The automated backends in use whose provider creates many mailboxes per round: worth
    gathering other waiting mailboxes for. Others get only the mailboxes a job was given, so a
    slow API's mailboxes stay spread over the worker's threads."""
    names = {settings.backend_for(mailbox_type) for mailbox_type in MailboxType}
    batch = []
    for name in sorted(names.intersection(AUTOMATED)):
        try:
            provider = provider_for(settings, name)
        except Exception:
            # Not buildable here (not configured): its own mailboxes fail below, saying why.
            continue
        if isinstance(provider, BatchMailboxProvider):
            batch.append(name)
    return batch


def _create(
    runtime: Runtime, backend: str, tasks: Sequence[provisioning.ProvisionTask]
) -> list[Result]:
    """One result per task: from one batch round, or mailbox by mailbox for a provider that has
    no batch call. An error of the round as a whole is every mailbox's result."""
    new = [NewMailbox(t.address, t.first_name, t.last_name, t.password) for t in tasks]
    try:
        # Every task of a round shares its backend and account (provision groups them so).
        with runtime.database.transaction(write=False) as session:
            binding = _binding(session, tasks[0])
        provider = resolve.built(runtime.settings, MAILBOX_PROVIDERS, binding)
        if not isinstance(provider, BatchMailboxProvider):
            return _one_by_one(runtime, provider, tasks, new)
        # The round prepares the domains itself; what domain_setup.prepare adds before that,
        # an ownership record in the zone, only a provider that asks for one needs.
        for domain in sorted({task.domain for task in tasks}):
            record = domain_setup.verification_record(provider, domain)
            if record:
                domain_setup.publish_verification(runtime, domain, record)
        results = provider.create_mailboxes(new)
        if len(results) != len(new):
            raise RuntimeError(f"{len(results)} results for {len(new)} mailboxes")
        return results
    except MailboxProviderError as exc:
        return [exc] * len(tasks)
    except Exception as exc:  # a bug or an unexpected library error: retry, and say so
        log.exception("provisioning %d mailboxes at %s failed", len(tasks), backend)
        return [MailboxProviderError(repr(exc), retryable=True)] * len(tasks)


def _one_by_one(
    runtime: Runtime,
    provider: MailboxProvider,
    tasks: Sequence[provisioning.ProvisionTask],
    new: Sequence[NewMailbox],
) -> list[Result]:
    prepared: set[str] = set()
    results: list[Result] = []
    for task, mailbox in zip(tasks, new, strict=True):
        try:
            if task.domain not in prepared:
                domain_setup.prepare(runtime, provider, task.domain)
                prepared.add(task.domain)
            results.append(provider.create_mailbox(mailbox))
        except MailboxProviderError as exc:
            results.append(exc)
        except Exception as exc:  # a bug or an unexpected library error: retry, and say so
            log.exception("provisioning %s failed", task.address)
            results.append(MailboxProviderError(repr(exc), retryable=True))
    return results


@job(DEPROVISION)
def deprovision(runtime: Runtime, mailbox_ids: Sequence[str]) -> None:
    """Delete removed mailboxes at their provider; a transient failure is tried again later."""
    settings, database = runtime.settings, runtime.database
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(
                Mailbox.id,
                Mailbox.backend,
                Mailbox.address,
                Mailbox.workspace_id,
                Mailbox.installation_id,
            )
            .join(Domain, Domain.id == Mailbox.domain_id)
            .where(Mailbox.id.in_(_ids(mailbox_ids)))
        ).all()
        bindings = [_binding(session, row) for row in rows]
    retry: list[str] = []
    done: list[uuid.UUID] = []
    for (mailbox_id, _, address, *_), binding in zip(rows, bindings, strict=True):
        try:
            resolve.built(settings, MAILBOX_PROVIDERS, binding).delete_mailbox(address)
            done.append(mailbox_id)
        except MailboxProviderError as exc:
            log.warning("deprovisioning %s failed: %s", address, exc)
            if exc.retryable:
                retry.append(str(mailbox_id))
            else:
                done.append(mailbox_id)  # refused for good: said above, not tried again
    if done:
        # Off the sweep, and their installation free to unbind.
        with database.transaction() as session:
            session.execute(
                update(Mailbox)
                .where(Mailbox.id.in_(done), Mailbox.status == MailboxStatus.REMOVED)
                .values(next_check_at=None)
            )
    if retry:
        runtime.enqueue_in(DEPROVISION, (retry,), delay=settings.job_lease_seconds)


@job(APPLY_FORWARDING)
def apply_forwarding(runtime: Runtime, domain_id: str) -> None:
    """Apply a domain's catch-all where its backend can; otherwise ask an operator, precisely."""
    settings, database = runtime.settings, runtime.database
    with database.transaction(write=False) as session:
        domain = session.get(Domain, uuid.UUID(domain_id))
        if domain is None:
            return
        name, target, workspace_id = domain.name, domain.catch_all_target, domain.workspace_id
        forwards = dict(domain.email_forwards or {})
        backend = settings.backend_for(domain.mailbox_type) if domain.mailbox_type else "manual"
        binding = _domain_binding(session, settings, domain, backend)
    if backend in AUTOMATED:
        try:
            resolve.built(settings, MAILBOX_PROVIDERS, binding).set_forwarding(
                name, catch_all=target, forwards=forwards
            )
            return
        except MailboxProviderError as exc:
            if exc.retryable:
                runtime.enqueue_in(APPLY_FORWARDING, (domain_id,), delay=settings.job_lease_seconds)
                return
            log.warning("catch-all of %s refused by %s: %s", name, backend, exc)
    parts = [
        f"Deliver mail for unknown addresses at {name} to {target}."
        if target
        else f"{name} has no catch-all."
    ]
    parts += [f"Forward {local}@{name} to {to}." for local, to in sorted(forwards.items())]
    instruction = " ".join(parts)
    with database.transaction() as session:
        events.record(
            session,
            workspace_id=workspace_id,
            type=EventType.DOMAIN_FORWARDING_REQUESTED,
            subject_type="domain",
            subject_id=uuid.UUID(domain_id),
            actor="system:mailboxes",
            backend=backend,
            instruction=instruction,
        )


def _domain_binding(
    session: Session, settings: Settings, domain: Domain, backend: str
) -> resolve.Binding:
    """The account a domain's mail settings go to: the one its live mailboxes of the backend
    were made at, else (none made yet) the one its next mailbox would be made at."""
    made = session.execute(
        select(Mailbox.installation_id)
        .where(
            Mailbox.domain_id == domain.id,
            Mailbox.backend == backend,
            Mailbox.status.not_in(
                (MailboxStatus.PENDING, MailboxStatus.FAILED, MailboxStatus.REMOVED)
            ),
        )
        .order_by(Mailbox.id)
        .limit(1)
    ).first()
    if made is None:
        return resolve.binding_for(
            session, settings, MAILBOX_PROVIDERS, domain.workspace_id, backend
        )
    return resolve.binding_by_id(
        session, MAILBOX_PROVIDERS, domain.workspace_id, backend, made.installation_id
    )


def _bindings(
    session: Session, mailbox_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, resolve.Binding]:
    rows = session.execute(
        select(Mailbox.id, Mailbox.workspace_id, Mailbox.backend, Mailbox.installation_id).where(
            Mailbox.id.in_(mailbox_ids)
        )
    ).all()
    return {row.id: _binding(session, row) for row in rows}


@sweeper
def sweep_mailboxes(runtime: Runtime) -> int:
    handed_out = 0
    while True:
        with runtime.database.transaction() as session:
            claim = provisioning.claim_due(
                session, runtime.settings, limit=runtime.settings.mailbox_provision_chunk
            )
            if claim.ids:
                enqueue_after_commit(
                    session,
                    PROVISION,
                    [str(i) for i in claim.ids],
                    claim.until.isoformat(),
                )
        handed_out += len(claim.ids)
        if len(claim.ids) < runtime.settings.mailbox_provision_chunk:
            return handed_out


@job(SYNC_PROFILE)
def sync_profile(runtime: Runtime, mailbox_id: str, old_address: str, photo: bool) -> None:
    """Apply a mailbox's current names, address and picture at its provider."""
    settings = runtime.settings
    with runtime.database.transaction(write=False) as session:
        mailbox = session.get(Mailbox, uuid.UUID(mailbox_id))
        if mailbox is None or mailbox.status not in SYNCABLE:
            return
        address = mailbox.address
        first_name, last_name = mailbox.first_name, mailbox.last_name
        workspace_id = mailbox.workspace_id
        binding = _binding(session, mailbox)
    try:
        provider = resolve.built(settings, MAILBOX_PROVIDERS, binding)
        if old_address != address:
            provider.rename_mailbox(old_address, address)
        provider.update_mailbox(address, first_name=first_name, last_name=last_name)
        if photo:
            image, content_type = pictures.load(settings, uuid.UUID(mailbox_id))
            provider.set_photo(address, image, content_type)
    except MailboxProviderError as exc:
        if exc.retryable:
            runtime.enqueue_in(
                SYNC_PROFILE, (mailbox_id, old_address, photo), delay=settings.job_lease_seconds
            )
            return
        with runtime.database.transaction() as session:
            # Visible in the audit trail (and to an operator): the change is in Mailfleet only.
            events.record(
                session,
                workspace_id=workspace_id,
                type=EventType.MAILBOX_PROVIDER_UPDATE_FAILED,
                subject_type="mailbox",
                subject_id=uuid.UUID(mailbox_id),
                actor="system:mailboxes",
                reason=str(exc),
            )


@sweeper
def sweep_due_removals(runtime: Runtime) -> int:
    """Mailboxes scheduled for removal at renewal go when their renewal date comes."""
    with runtime.database.transaction() as session:
        return apply_due_removals(session, clock.now())


@job(SUSPEND)
def suspend(runtime: Runtime, mailbox_ids: Sequence[str]) -> None:
    """Stop these SUSPENDED mailboxes' logins at their provider (mailboxes.suspension)."""
    _at_provider(runtime, mailbox_ids)


@job(RESUME)
def resume(runtime: Runtime, mailbox_ids: Sequence[str]) -> None:
    """Let these mailboxes, ACTIVE again after a suspension, log in again at their provider."""
    _at_provider(runtime, mailbox_ids)


def _at_provider(runtime: Runtime, mailbox_ids: Sequence[str]) -> None:
    """Bring each mailbox's provider to its status now, whichever job was asked: a mailbox
    reactivated before its suspension job ran is resumed, not suspended. Done ones are
    skipped, so a repeat calls nobody."""
    settings, database = runtime.settings, runtime.database
    with database.transaction(write=False) as session:
        work = suspension.pending(session, _ids(mailbox_ids))
        bindings = _bindings(session, [item.mailbox_id for item in work])
    results: list[tuple[suspension.Work, MailboxProviderError | None]] = []
    for item in work:
        suspending = item.status == MailboxStatus.SUSPENDED
        action = "suspending" if suspending else "resuming"
        try:
            provider = resolve.built(settings, MAILBOX_PROVIDERS, bindings[item.mailbox_id])
            if suspending:
                provider.suspend(item.address)
            else:
                provider.resume(item.address)
            results.append((item, None))
        except MailboxProviderError as exc:
            log.warning("%s %s at %s failed: %s", action, item.address, item.backend, exc)
            results.append((item, exc))
        except Exception as exc:  # a bug or an unexpected library error: retry, and say so
            log.exception("%s %s at %s failed", action, item.address, item.backend)
            results.append((item, MailboxProviderError(repr(exc), retryable=True)))
    if results:
        with database.transaction() as session:
            suspension.finish(session, settings, results)


@sweeper
def sweep_suspensions(runtime: Runtime) -> int:
    """Suspensions and reactivations whose provider side is overdue (a lost job, a retry)."""
    with runtime.database.transaction() as session:
        claimed = suspension.claim_due(
            session, runtime.settings, limit=runtime.settings.mailbox_provision_chunk
        )
        for name, ids in claimed.items():
            enqueue_after_commit(session, name, [str(i) for i in ids])
    return sum(len(ids) for ids in claimed.values())


@sweeper
def sweep_reactivations(runtime: Runtime) -> int:
    """Suspended mailboxes the workspace has slots for again go back to ACTIVE."""
    with runtime.database.transaction() as session:
        return suspension.reactivate_due(session, runtime.settings, clock.now())
