"""Billing-period arithmetic and proration: the one place that knows how long a period is.

Periods are calendar months (monthly +1, quarterly +3, yearly +12). A period starting on a day
its end month does not have is clamped to that month's last day (Jan 31 -> Feb 28, or Feb 29 in
a leap year), always counted from the anchor (the first period's start), so a subscription
bought on Jan 31 renews on Feb 28, then Mar 31, not Mar 28.

Proration counts whole days, because days are what customers read on an invoice. The day in
progress is still to use: at `now` the days left are the period's days minus the whole days
elapsed since its start. So on the first day every day remains (an upgrade credits all of the
old price, an add-on costs all of its period price) and on the last day one day remains (an
add-on bought then costs one day, never nothing). Amounts round down to the cent, so a credit
never exceeds what was paid.

A subscription's anchor is its first period's start (`Subscription.created_at` is set to it at
purchase): renewals pass `anchor_day=subscription.created_at.day`.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from mailfleet.models.enums import BillingPeriod

_DAY = timedelta(days=1)


def add_months(start: datetime, months: int, *, anchor_day: int | None = None) -> datetime:
    """`start` moved by `months` calendar months, the day clamped to the end month's length.

    `anchor_day` (the day of month of the first period's start) keeps a Jan 31 subscription on
    the 31st of every month that has one instead of drifting to the 28th after February.
    """
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(anchor_day or start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def period_end(
    start: datetime, period: BillingPeriod, *, anchor_day: int | None = None
) -> datetime:
    """The end of the period that starts at `start` (the next period's start)."""
    return add_months(start, period.months, anchor_day=anchor_day)


def days_in(start: datetime, end: datetime) -> int:
    """Whole days of the period [start, end)."""
    return (end - start) // _DAY


def remaining_days(now: datetime, start: datetime, end: datetime) -> int:
    """Days of [start, end) left at `now`, the day in progress included (see the module)."""
    if now >= end:
        return 0
    total = days_in(start, end)
    if now <= start:
        return total
    return max(total - (now - start) // _DAY, 0)


def prorate(amount_cents: int, now: datetime, start: datetime, end: datetime) -> int:
    """The part of `amount_cents` for the days of [start, end) left at `now`, rounded down."""
    total = days_in(start, end)
    if total <= 0:
        return 0
    return amount_cents * remaining_days(now, start, end) // total
