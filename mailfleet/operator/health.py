"""Job health for operators: per kind of background work, how much is under way, how much is
due now (its timer passed: the next sweep hands it out), and how long the oldest due item has
waited. A due item waiting far past the sweep interval means the worker is down or stuck.

One small grouped count per kind, each on the index its sweep already uses. Read only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.kit import clock
from mailfleet.models import (
    DeliveryStatus,
    Domain,
    DomainPurchase,
    DomainPurchaseStatus,
    DomainRenewal,
    DomainRenewalStatus,
    DomainStatus,
    DomainSwap,
    ExportJob,
    ExportStatus,
    Mailbox,
    MailboxStatus,
    QuickSetup,
    WebhookDelivery,
)


@dataclass(frozen=True)
class Backlog:
    kind: str
    open: int
    due: int
    # Seconds the oldest due item has waited past its timer (0 when none is due).
    oldest_due_seconds: int


# kind -> (the model, the condition of open work, its timer column)
def _sources() -> list[tuple[str, Any, Any, Any]]:
    return [
        (
            "domains",
            Domain,
            Domain.status.in_([DomainStatus.QUEUED, DomainStatus.PENDING_NS]),
            Domain.next_check_at,
        ),
        (
            "mailboxes",
            Mailbox,
            Mailbox.status.in_([MailboxStatus.PENDING, MailboxStatus.PROVISIONING]),
            Mailbox.next_check_at,
        ),
        (
            "exports",
            ExportJob,
            ExportJob.status.in_([ExportStatus.PENDING, ExportStatus.RUNNING]),
            ExportJob.lease_until,
        ),
        (
            "webhook_deliveries",
            WebhookDelivery,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at,
        ),
        (
            "domain_purchases",
            DomainPurchase,
            DomainPurchase.status.in_(
                [DomainPurchaseStatus.PENDING, DomainPurchaseStatus.REGISTERING]
            ),
            DomainPurchase.retry_at,
        ),
        (
            "domain_renewals",
            DomainRenewal,
            DomainRenewal.status == DomainRenewalStatus.PENDING,
            DomainRenewal.retry_at,
        ),
        (
            "quick_setups",
            QuickSetup,
            QuickSetup.next_check_at.is_not(None),
            QuickSetup.next_check_at,
        ),
        (
            "domain_swaps",
            DomainSwap,
            DomainSwap.next_check_at.is_not(None),
            DomainSwap.next_check_at,
        ),
    ]


def backlog(session: Session, now: datetime | None = None) -> list[Backlog]:
    now = now or clock.now()
    found = []
    for kind, model, is_open, timer in _sources():
        due = is_open & timer.is_not(None) & (timer <= now)
        row = session.execute(
            select(
                func.count().filter(is_open),
                func.count().filter(due),
                func.min(timer).filter(due),
            ).select_from(model)
        ).one()
        oldest = row[2]
        waited = int((now - oldest.replace(tzinfo=now.tzinfo)).total_seconds()) if oldest else 0
        found.append(Backlog(kind, int(row[0]), int(row[1]), max(0, waited)))
    return found
