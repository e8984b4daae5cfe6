"""Subscriptions with what a listing shows beside each (its plan's name, its newest invoice),
in three queries whatever their number: for surfaces listing them all at once (Zapmail)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mailfleet.kit.pagination import contains_pattern
from mailfleet.models import Invoice, Plan, Subscription, SubscriptionStatus

# A workspace holds a handful; this bounds a listing that answers them all at once.
MAX_LISTED = 1000


@dataclass(frozen=True)
class Listed:
    subscription: Subscription
    plan_name: str
    latest_invoice_id: uuid.UUID | None


def listed(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    statuses: Sequence[SubscriptionStatus] | None = None,
    contains: str | None = None,
) -> list[Listed]:
    """Newest first; `contains` matches the plan's name, the lookup key or the sub_ id."""
    statement = (
        select(Subscription, Plan.name)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.workspace_id == workspace_id)
    )
    if statuses:
        statement = statement.where(Subscription.status.in_(list(statuses)))
    if contains and contains.strip():
        pattern = contains_pattern(contains)
        statement = statement.where(
            or_(
                Plan.name.ilike(pattern, escape="\\"),
                Subscription.lookup_key.ilike(pattern, escape="\\"),
                Subscription.public_id.ilike(pattern, escape="\\"),
            )
        )
    rows = session.execute(
        statement.order_by(Subscription.created_at.desc(), Subscription.id.desc()).limit(MAX_LISTED)
    ).all()
    ids = [row[0].id for row in rows]
    newest = _newest_invoices(session, workspace_id, ids) if ids else {}
    return [Listed(sub, name, newest.get(sub.id)) for sub, name in rows]


def _newest_invoices(
    session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    latest = (
        select(Invoice.subscription_id, func.max(Invoice.issued_at).label("at"))
        .where(Invoice.workspace_id == workspace_id, Invoice.subscription_id.in_(ids))
        .group_by(Invoice.subscription_id)
        .subquery()
    )
    found: dict[uuid.UUID, uuid.UUID] = {}
    for subscription_id, invoice_id in session.execute(
        select(Invoice.subscription_id, Invoice.id)
        .join(
            latest,
            (latest.c.subscription_id == Invoice.subscription_id)
            & (latest.c.at == Invoice.issued_at),
        )
        .order_by(Invoice.id)
    ):
        if subscription_id is not None:
            found[subscription_id] = invoice_id
    return found
