"""Mailbox jobs: provision at the provider, deprovision, and the sweep that retries."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import select

from mailfleet.db import enqueue_after_commit
from mailfleet.events import service as events
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes import provisioning
from mailfleet.mailboxes.backends import AUTOMATED
from mailfleet.mailboxes.backends.automated import APPLY_FORWARDING, DEPROVISION, PROVISION
from mailfleet.mailboxes.providers.base import MailboxProviderError, NewMailbox
from mailfleet.mailboxes.providers.registry import provider_for
from mailfleet.models import Domain, Mailbox

log = logging.getLogger(__name__)
CHUNK = 200


def _ids(values: Sequence[str]) -> list[uuid.UUID]:
    return [uuid.UUID(value) for value in values]


@job(PROVISION)
def provision(runtime: Runtime, mailbox_ids: Sequence[str]) -> None:
    settings, database = runtime.settings, runtime.database
    box = SecretBox.from_settings(settings)
    with database.transaction() as session:
        work = provisioning.start(session, settings, box, _ids(mailbox_ids))
    prepared: set[tuple[str, str]] = set()
    for task in work:
        try:
            provider = provider_for(settings, task.backend)
            if (task.backend, task.domain) not in prepared:
                provider.prepare_domain(task.domain)
                prepared.add((task.backend, task.domain))
            result = provider.create_mailbox(
                NewMailbox(task.address, task.first_name, task.last_name, task.password)
            )
        except MailboxProviderError as exc:
            with database.transaction() as session:
                provisioning.failed(
                    session, settings, task.mailbox_id, str(exc), retryable=exc.retryable
                )
            continue
        except Exception as exc:  # a bug or an unexpected library error: retry, and say so
            log.exception("provisioning %s failed", task.address)
            with database.transaction() as session:
                provisioning.failed(session, settings, task.mailbox_id, repr(exc), retryable=True)
            continue
        with database.transaction() as session:
            provisioning.complete(session, box, task, result)


@job(DEPROVISION)
def deprovision(runtime: Runtime, mailbox_ids: Sequence[str]) -> None:
    """Delete removed mailboxes at their provider; a transient failure is tried again later."""
    settings, database = runtime.settings, runtime.database
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(Mailbox.id, Mailbox.backend, Mailbox.address)
            .join(Domain, Domain.id == Mailbox.domain_id)
            .where(Mailbox.id.in_(_ids(mailbox_ids)))
        ).all()
    retry: list[str] = []
    for mailbox_id, backend, address in rows:
        try:
            provider_for(settings, backend).delete_mailbox(address)
        except MailboxProviderError as exc:
            log.warning("deprovisioning %s failed: %s", address, exc)
            if exc.retryable:
                retry.append(str(mailbox_id))
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
        backend = settings.backend_for(domain.mailbox_type) if domain.mailbox_type else "manual"
    if backend in AUTOMATED:
        try:
            provider_for(settings, backend).set_forwarding(name, catch_all=target, forwards={})
            return
        except MailboxProviderError as exc:
            if exc.retryable:
                runtime.enqueue_in(APPLY_FORWARDING, (domain_id,), delay=settings.job_lease_seconds)
                return
            log.warning("catch-all of %s refused by %s: %s", name, backend, exc)
    instruction = (
        f"Deliver mail for unknown addresses at {name} to {target}."
        if target
        else f"Remove the catch-all of {name}."
    )
    with database.transaction() as session:
        events.record(
            session,
            workspace_id=workspace_id,
            type="domain.forwarding_requested",
            subject_type="domain",
            subject_id=uuid.UUID(domain_id),
            actor="system:mailboxes",
            backend=backend,
            instruction=instruction,
        )


@sweeper
def sweep_mailboxes(runtime: Runtime) -> int:
    handed_out = 0
    while True:
        with runtime.database.transaction() as session:
            ids = provisioning.claim_due(session, runtime.settings, limit=CHUNK)
            if ids:
                enqueue_after_commit(session, PROVISION, [str(i) for i in ids])
        handed_out += len(ids)
        if len(ids) < CHUNK:
            return handed_out
