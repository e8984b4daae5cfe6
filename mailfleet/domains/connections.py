"""Connection requests: a domain brought in from elsewhere, seen as a request on its way to
ACTIVE. Not a second pipeline: a request is the domain itself, and its step is read from the
domain's lifecycle (QUEUED -> PENDING_NS -> ACTIVE, or FAILED) and its last delegation check.
Every surface lists them through here and names the steps in its own words."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from mailfleet.domains import bulk, pages
from mailfleet.domains.pages import DomainFilter
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import Domain, DomainSource, DomainStatus


class ConnectionStep(enum.StrEnum):
    # Accepted; its zone is being made.
    PENDING = "PENDING"
    # The zone is served; the registrar's delegation has not been checked yet.
    CHECKING_NS = "CHECKING_NS"
    # Checked: the parent zone does not point at the assigned pair yet (retried).
    NS_NOT_CHANGED = "NS_NOT_CHANGED"
    SUCCESS = "SUCCESS"
    # Given up on (`failure_reason` says why).
    FAILED = "FAILED"


# A step as a filter: the domain status, and whether the delegation was checked (None: either).
FILTERS: dict[ConnectionStep, tuple[DomainStatus, bool | None]] = {
    ConnectionStep.PENDING: (DomainStatus.QUEUED, None),
    ConnectionStep.CHECKING_NS: (DomainStatus.PENDING_NS, False),
    ConnectionStep.NS_NOT_CHANGED: (DomainStatus.PENDING_NS, True),
    ConnectionStep.SUCCESS: (DomainStatus.ACTIVE, None),
    ConnectionStep.FAILED: (DomainStatus.FAILED, None),
}
# Without a step: the requests still open, and the failed ones (not the connected ones).
OPEN = (DomainStatus.QUEUED, DomainStatus.PENDING_NS, DomainStatus.FAILED)


def step_of(domain: Any) -> ConnectionStep:
    if domain.status == DomainStatus.PENDING_NS:
        checked = domain.last_checked_at is not None
        return ConnectionStep.NS_NOT_CHANGED if checked else ConnectionStep.CHECKING_NS
    return {
        DomainStatus.QUEUED: ConnectionStep.PENDING,
        DomainStatus.ACTIVE: ConnectionStep.SUCCESS,
    }.get(domain.status, ConnectionStep.FAILED)


def wanted(step: ConnectionStep | None) -> DomainFilter:
    """The connected domains a step picks (the open and failed ones without one)."""
    if step is None:
        return DomainFilter(statuses=OPEN, source=DomainSource.CONNECTED)
    status, checked = FILTERS[step]
    return DomainFilter(statuses=[status], source=DomainSource.CONNECTED, checked=checked)


def observed_nameservers(domain: Any) -> list[str]:
    """The nameservers the parent zone answered at the last check (none before one)."""
    for parent in (domain.delegation_report or {}).get("parents", []):
        if parent.get("nameservers"):
            return list(parent["nameservers"])
    return []


def list_requests(
    session: Session,
    workspace_id: uuid.UUID,
    step: ConnectionStep | None,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Domain], str | None]:
    """The requests `step` picks, newest first (keyset pages)."""
    statement = pages.matching(workspace_id, wanted(step))
    rows = session.execute(paginate(statement, Domain.id, cursor, limit)).all()
    page, next_cursor = split_page(rows, limit, lambda row: row[0].id)
    return [row[0] for row in page], next_cursor


def remove_requests(
    session: Session, workspace_id: uuid.UUID, domain_ids: Sequence[uuid.UUID], *, actor: str
) -> int:
    """Remove requests not connected yet, all or nothing (404 naming one not the
    workspace's, 409 `connection_completed` when one is ACTIVE already)."""
    picked = bulk.picked(session, workspace_id, bulk.Pick(ids=list(domain_ids), field="ids"))
    return bulk.cancel_connections(
        session, workspace_id=workspace_id, domain_ids=picked, actor=actor
    )
