"""The registrar accounts purchases are spread over, and each account's daily cap.

The deployment's own registrar settings are the account "default"; MAILFLEET_REGISTRAR_ACCOUNTS
adds more at the same registrar (config.RegistrarAccount). A purchase's names are placed, one at
a time, on the account with the fewest registrations today (UTC) that is under
`registrar_daily_cap`; if some name fits nowhere the whole purchase is refused up front (409
`registrar_daily_cap_reached`, nothing debited). A registration counts from its purchase until
the registrar refuses it (FAILED purchases free their place).

Placement is safe under concurrent purchases: each takes a row lock on every account it may
use (`registrar_accounts`, in name order) before counting, so the count it reads holds until
its purchase commits. On SQLite the write transaction's BEGIN IMMEDIATE already serialises it.
Renewals and retries go to the account recorded on the purchase (`registrar_account`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import insert_ignoring_duplicates
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.models import DomainPurchase
from mailfleet.models.registrar import LIVE_PURCHASES, RegistrarAccountLock
from mailfleet.registrars.registry import DEFAULT_ACCOUNT

DEFAULT = DEFAULT_ACCOUNT


class DailyCapReached(Conflict):
    code = "registrar_daily_cap_reached"


@dataclass(frozen=True)
class Account:
    name: str
    registrar: str


def accounts(settings: Settings) -> list[Account]:
    """Every account, the deployment's own first (when it has a registrar)."""
    found = [Account(DEFAULT, settings.registrar)] if settings.registrar != "none" else []
    return found + [Account(a.name, a.registrar) for a in settings.registrar_accounts]


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The UTC day `now` falls in."""
    start = datetime.combine(now.date(), time.min, now.tzinfo)
    return start, start + timedelta(days=1)


def registered_today(session: Session, names: list[str], now: datetime) -> dict[str, int]:
    """Each account's registrations of the UTC day, in one grouped count."""
    start, end = day_bounds(now)
    rows = session.execute(
        select(DomainPurchase.registrar_account, func.count())
        .where(
            DomainPurchase.registrar_account.in_(names),
            DomainPurchase.created_at >= start,
            DomainPurchase.created_at < end,
            DomainPurchase.status.in_(LIVE_PURCHASES),
        )
        .group_by(DomainPurchase.registrar_account)
    ).all()
    counts = dict.fromkeys(names, 0)
    counts.update({name: int(count) for name, count in rows})
    return counts


def _lock(session: Session, names: list[str]) -> None:
    insert_ignoring_duplicates(
        session,
        RegistrarAccountLock,
        [{"name": name, "created_at": clock.now()} for name in names],
        unique=["name"],
    )
    session.execute(
        select(RegistrarAccountLock.name)
        .where(RegistrarAccountLock.name.in_(names))
        .order_by(RegistrarAccountLock.name)
        .with_for_update()
    ).all()


def place(session: Session, settings: Settings, registrar: str, count: int) -> list[str]:
    """The account each of `count` new names goes to, in order; raises DailyCapReached (before
    anything is debited) when they do not all fit under the cap today. Holds the accounts'
    locks until the caller's transaction ends."""
    usable = [a.name for a in accounts(settings) if a.registrar == registrar] or [DEFAULT]
    cap = settings.registrar_daily_cap
    if len(usable) == 1 and cap == 0:
        return usable * count
    _lock(session, usable)
    now = clock.now()
    counts = registered_today(session, usable, now)
    placed: list[str] = []
    for _ in range(count):
        # The fewest today, the configured order breaking ties (the default first).
        open_ = [name for name in usable if cap == 0 or counts[name] < cap]
        if not open_:
            break
        best = min(open_, key=lambda name: counts[name])
        counts[best] += 1
        placed.append(best)
    if len(placed) < count:
        free = len(placed)
        _, tomorrow = day_bounds(now)
        wait = max(1, int((tomorrow - now).total_seconds()))
        raise DailyCapReached(
            f"The registrar accounts have room for {free} more new domain(s) today (UTC) "
            f"under the daily cap of {cap} per account; {count} asked. Nothing was bought: "
            f"try again after midnight UTC.",
            headers={"Retry-After": str(wait)},
        )
    return placed
