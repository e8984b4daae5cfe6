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
    ends = [
        end
        for types, end in session.execute(
            select(Subscription.mailbox_types, Subscription.current_period_end).where(
                Subscription.workspace_id == workspace_id, Subscription.status.in_(_RENEWING)
            )
        )
        # A JSON list of type names: compared here, the same on SQLite and PostgreSQL.
        if mailbox_type.value in types and end > now
    ]
    return min(ends) if ends else now + timedelta(days=settings.renewal_period_days)
