"""The re-export rule: a mailbox goes to the apps at most `export_max_per_window` times in any
`export_window_days` days (Zapmail's R9: 3 a week).

An export counts from the moment it is accepted (its result row's created_at) unless it ended
SKIPPED or FAILED: a mailbox the app never took has not been exported. The window is half-open,
(now - window, now]: an export exactly `window` old no longer counts, so the mailbox frees up
at the moment its oldest counted export turns `window` old.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.models import ExportOutcome, ExportResult

CHUNK = 500
NOT_COUNTED = (ExportOutcome.SKIPPED, ExportOutcome.FAILED)


@dataclass(frozen=True)
class Refusal:
    mailbox_id: uuid.UUID
    available_at: datetime


def refusals(
    session: Session, settings: Settings, mailbox_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, Refusal]:
    """The mailboxes among `mailbox_ids` that are at the limit, with when each frees up."""
    window = timedelta(days=settings.export_window_days)
    limit = settings.export_max_per_window
    ids = list(mailbox_ids)
    recent: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        statement = select(ExportResult.mailbox_id, ExportResult.created_at).where(
            ExportResult.mailbox_id.in_(ids[start : start + CHUNK]),
            ExportResult.created_at > now - window,
            ExportResult.status.not_in(NOT_COUNTED),
        )
        for mailbox_id, created_at in session.execute(statement):
            recent[mailbox_id].append(created_at)
    refused = {}
    for mailbox_id, times in recent.items():
        if len(times) >= limit:
            times.sort()
            # Once this many of them have left the window, one more export fits.
            freeing = times[len(times) - limit]
            refused[mailbox_id] = Refusal(mailbox_id, freeing + window)
    return refused
