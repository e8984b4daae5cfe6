"""A mailbox's renewal date (`expires_at`) before its first renewal.

Each paid renewal of a subscription sets the renewal date of the workspace's live mailboxes of
its types to the new period's end (billing.renewals.mailboxes). Until the first one, a new or
reactivated mailbox takes the date the next of those renewals will happen: the earliest period
end of the workspace's live (ACTIVE or PAST_DUE) subscriptions covering its type. A workspace
whose slots are operator grants only has no such date, and keeps the deployment's fixed
renewal period (`renewal_period_days`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.models import MailboxType, Subscription, SubscriptionStatus

# The statuses whose subscriptions renew (billing.renewals.service.DUE).
_RENEWING = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


def renewal_date(
    session: Session,
    settings: Settings,
    workspace_id: uuid.UUID,
    mailbox_type: MailboxType,
    now: datetime,
) -> datetime:
    key = (workspace_id, mailbox_type)
    return renewal_dates(session, settings, [key], now)[key]


def renewal_dates(
    session: Session,
    settings: Settings,
    keys: Collection[tuple[uuid.UUID, MailboxType]],
    now: datetime,
) -> dict[tuple[uuid.UUID, MailboxType], datetime]:
    """`renewal_date` of many (workspace, type) at once, in one query (orders in bulk)."""
    workspaces = sorted({workspace_id for workspace_id, _ in keys})
    ends: dict[tuple[uuid.UUID, MailboxType], datetime] = {}
    for workspace_id, types, end in session.execute(
        select(
            Subscription.workspace_id, Subscription.mailbox_types, Subscription.current_period_end
        ).where(Subscription.workspace_id.in_(workspaces), Subscription.status.in_(_RENEWING))
    ):
        if end <= now:
            continue  # due already: its renewal runs now, and sets the date itself
        # A JSON list of type names: compared here, the same on SQLite and PostgreSQL.
        for name in types:
            key = (workspace_id, MailboxType(name))
            if key not in ends or end < ends[key]:
                ends[key] = end
    fixed = now + timedelta(days=settings.renewal_period_days)
    return {key: ends.get(key, fixed) for key in keys}
