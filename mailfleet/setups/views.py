"""A quick setup as the surfaces show it: where it is, per domain, and what was skipped."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.exceptions import NotFound
from mailfleet.models import Domain, Mailbox
from mailfleet.models.setup import QuickSetup
from mailfleet.setups.service import get, purchases_of


@dataclass(frozen=True)
class DomainProgress:
    name: str
    purchase_status: str
    domain_status: str | None
    requested: int
    placed: int
    skipped: str | None


@dataclass(frozen=True)
class SetupView:
    id: uuid.UUID
    status: str
    mailbox_type: str
    total_cents: int
    addon_slots: int
    domains: list[DomainProgress]
    export_ids: list[str]
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None


def status_view(session: Session, workspace_id: uuid.UUID, setup_id: uuid.UUID) -> SetupView:
    setup = get(session, workspace_id, setup_id)
    if setup is None:
        raise NotFound(f"No quick setup {setup_id}.", code="quick_setup_not_found", field="id")
    return _view(session, setup)


def _placed(session: Session, setup: QuickSetup) -> dict[str, int]:
    orders = [uuid.UUID(value) for value in setup.order_ids]
    if not orders:
        return {}
    rows = session.execute(
        select(Domain.name, func.count(Mailbox.id))
        .join(Domain, Domain.id == Mailbox.domain_id)
        .where(Mailbox.order_id.in_(orders))
        .group_by(Domain.name)
    )
    return {name: int(count) for name, count in rows}


def _view(session: Session, setup: QuickSetup) -> SetupView:
    placed = _placed(session, setup)
    purchases = {row.name: row for row in purchases_of(session, setup)}
    domains = []
    for item in setup.offers:
        name = item["name"]
        row = purchases.get(name)
        domain = session.get(Domain, row.domain_id) if row and row.domain_id else None
        domains.append(
            DomainProgress(
                name,
                row.status.value if row else "NOT_BOUGHT",
                domain.status.value if domain else None,
                len(setup.mailboxes.get(name, [])),
                placed.get(name, 0),
                setup.skipped.get(name),
            )
        )
    return SetupView(
        setup.id,
        setup.status.value,
        setup.mailbox_type.value,
        setup.total_cents,
        setup.addon_slots,
        domains,
        list(setup.export_ids),
        setup.failure_reason,
        setup.created_at,
        setup.completed_at,
    )
