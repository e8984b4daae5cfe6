"""The steps after a setup is bought: place each ACTIVE domain's mailboxes, then export them
once they are made. Each step reads the state the other packages' jobs leave (registrations,
provisioning) and moves the setup on; none calls a provider. The caller commits."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.exceptions import MailfleetError
from mailfleet.exports import service as export_service
from mailfleet.exports.schemas import ExportSettingsIn
from mailfleet.models import (
    Domain,
    DomainPurchaseStatus,
    DomainStatus,
    ExportApp,
    Mailbox,
    MailboxStatus,
)
from mailfleet.models.setup import QuickSetup, QuickSetupStatus
from mailfleet.orders.service import NewMailbox, OrderRequest, create_orders
from mailfleet.policy import PolicyProfile
from mailfleet.setups import transitions
from mailfleet.setups.service import POLL, purchases_of

S = QuickSetupStatus
# Mailbox statuses that end the wait for an export: made, or given up on.
SETTLED = frozenset({MailboxStatus.ACTIVE, MailboxStatus.FAILED, MailboxStatus.REMOVED})


def ready_domains(session: Session, setup: QuickSetup) -> dict[str, Domain] | None:
    """The bought domains that are ACTIVE, by name, once every purchase is decided (None
    while one still registers or its domain is still being delegated). A failed registration
    is recorded as skipped."""
    ready: dict[str, Domain] = {}
    skipped = dict(setup.skipped)
    for row in purchases_of(session, setup):
        if row.status == DomainPurchaseStatus.FAILED:
            skipped[row.name] = f"The registration failed: {row.failure_reason or 'refused'}"
            continue
        domain = session.get(Domain, row.domain_id) if row.domain_id else None
        if domain is None or domain.status in (DomainStatus.QUEUED, DomainStatus.PENDING_NS):
            return None
        if domain.status == DomainStatus.ACTIVE:
            ready[row.name] = domain
        else:
            skipped[row.name] = f"The domain is {domain.status.value}."
    setup.skipped = skipped
    return ready


def place(session: Session, settings: Settings, setup: QuickSetup, *, actor: str) -> None:
    """WAITING_FOR_DOMAINS: order the mailboxes of every ACTIVE domain in one batch, under the
    rules of the surface that took the setup; a domain a rule refuses is skipped with why."""
    ready = ready_domains(session, setup)
    if ready is None:
        transitions.wait(setup, POLL)
        return
    names = [name for name in setup.mailboxes if name in ready]
    requests = [
        OrderRequest(
            setup.workspace_id,
            str(ready[name].id),
            setup.mailbox_type,
            [
                NewMailbox(m["first_name"], m["last_name"], m["username"])
                for m in setup.mailboxes[name]
            ],
        )
        for name in names
    ]
    results = create_orders(
        session,
        settings,
        PolicyProfile.from_rules_json(settings, setup.profile),
        requests,
        user_id=None,
        actor=actor,
    )
    skipped = dict(setup.skipped)
    orders = []
    for name, result in zip(names, results, strict=True):
        if isinstance(result, MailfleetError):
            skipped[name] = result.detail
        else:
            orders.append(str(result.order.id))
    setup.skipped, setup.order_ids = skipped, orders
    if setup.apps and orders:
        transitions.move(session, setup, S.WAITING_FOR_MAILBOXES, actor=actor, next_check=POLL)
    else:
        transitions.move(session, setup, S.DONE, actor=actor)


def export(session: Session, settings: Settings, setup: QuickSetup, *, actor: str) -> None:
    """WAITING_FOR_MAILBOXES: once every mailbox ordered is made (or failed), one export job
    per app of the ACTIVE ones."""
    orders = [uuid.UUID(value) for value in setup.order_ids]
    rows = session.execute(
        select(Mailbox.id, Mailbox.status).where(Mailbox.order_id.in_(orders))
    ).all()
    if any(status not in SETTLED for _, status in rows):
        transitions.wait(setup, POLL)
        return
    made = [mailbox_id for mailbox_id, status in rows if status == MailboxStatus.ACTIVE]
    exports = []
    for app in setup.apps:
        if not made:
            break
        try:
            job = export_service.create(
                session,
                settings,
                setup.workspace_id,
                app=ExportApp(app),
                account_id=setup.export_account_id,
                mailbox_ids=made,
                where=None,
                exclude_ids=[],
                export_settings=ExportSettingsIn().model_dump(),
                actor=actor,
            )
        except MailfleetError as exc:
            setup.skipped = {**setup.skipped, f"export:{app}": exc.detail}
            continue
        exports.append(str(job.id))
    setup.export_ids = exports
    transitions.move(session, setup, S.DONE, actor=actor)
