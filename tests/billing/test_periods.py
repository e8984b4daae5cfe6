"""Period arithmetic (calendar months, end-of-month clamping) and day-based proration."""

from datetime import UTC, datetime

import pytest

from mailfleet.billing.periods import add_months, days_in, period_end, prorate, remaining_days
from mailfleet.models.enums import BillingPeriod


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        (at(2025, 1, 15), BillingPeriod.MONTHLY, at(2025, 2, 15)),
        (at(2025, 1, 31), BillingPeriod.MONTHLY, at(2025, 2, 28)),
        (at(2024, 1, 31), BillingPeriod.MONTHLY, at(2024, 2, 29)),
        (at(2025, 11, 30), BillingPeriod.QUARTERLY, at(2026, 2, 28)),
        (at(2024, 2, 29), BillingPeriod.YEARLY, at(2025, 2, 28)),
        (at(2025, 12, 31), BillingPeriod.MONTHLY, at(2026, 1, 31)),
    ],
)
def test_period_end_is_calendar_months_clamped_to_month_end(
    start: datetime, period: BillingPeriod, end: datetime
) -> None:
    assert period_end(start, period) == end


def test_anchor_day_keeps_a_month_end_subscription_on_the_month_end() -> None:
    feb = add_months(at(2025, 1, 31), 1)
    assert feb == at(2025, 2, 28)
    assert add_months(feb, 1, anchor_day=31) == at(2025, 3, 31)
    assert add_months(at(2025, 3, 31), 1, anchor_day=31) == at(2025, 4, 30)


def test_leap_years_have_their_extra_day() -> None:
    assert days_in(at(2024, 1, 1), period_end(at(2024, 1, 1), BillingPeriod.YEARLY)) == 366
    assert days_in(at(2025, 1, 1), period_end(at(2025, 1, 1), BillingPeriod.YEARLY)) == 365
    assert days_in(at(2024, 2, 1), at(2024, 3, 1)) == 29


def test_first_day_leaves_every_day_and_the_last_day_one() -> None:
    start, end = at(2024, 2, 1), at(2024, 3, 1)
    assert remaining_days(start, start, end) == 29
    assert remaining_days(at(2024, 2, 1, 23), start, end) == 29
    assert remaining_days(at(2024, 2, 2, 13), start, end) == 28
    assert remaining_days(at(2024, 2, 29, 13), start, end) == 1
    assert remaining_days(end, start, end) == 0


def test_prorate_rounds_down_and_never_exceeds_the_amount() -> None:
    start, end = at(2024, 2, 1), at(2024, 3, 1)
    assert prorate(2900, start, start, end) == 2900
    assert prorate(2900, at(2024, 2, 29, 13), start, end) == 100
    assert prorate(1000, at(2024, 2, 15, 13), start, end) == 1000 * 15 // 29
    assert prorate(1000, at(2024, 4, 1), start, end) == 0
