"""Plans as data. A row is one version of a plan; the current version of a lookup key is the
one not superseded. A change writes a new version, so subscriptions keep the version (and the
price) they bought until they renew. The caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.billing.errors import CurrencyMismatch
from mailfleet.billing.plans.errors import InvalidPlan, PlanExists, PlanNotFound, PlanRetired
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.kit import clock
from mailfleet.models import BillingPeriod, MailboxType, Plan, PlanStatus

# What a change may set; anything else about a plan is its identity (key, version).
CHANGEABLE = ("name", "tier", "mailbox_types", "slots", "price_cents", "addon_price_cents")


@dataclass(frozen=True)
class PlanSpec:
    lookup_key: str
    name: str
    tier: str
    period: BillingPeriod
    mailbox_types: tuple[MailboxType, ...]
    slots: int
    price_cents: int
    addon_price_cents: int
    currency: str


def current(session: Session, lookup_key: str, *, for_update: bool = False) -> Plan:
    """The current version of `lookup_key` (retired ones too), or 404."""
    statement = select(Plan).where(Plan.lookup_key == lookup_key, Plan.superseded_at.is_(None))
    if for_update:
        statement = statement.with_for_update()
    plan = session.scalars(statement).first()
    if plan is None:
        raise PlanNotFound(f"No plan has the lookup key {lookup_key!r}.", field="lookup_key")
    return plan


def purchasable(session: Session, lookup_key: str, currency: str) -> Plan:
    """The current version, refused when retired or priced in another currency."""
    plan = current(session, lookup_key)
    if plan.status == PlanStatus.RETIRED:
        raise PlanRetired(f"The plan {lookup_key!r} is retired.", field="lookup_key")
    if plan.currency != currency:
        raise CurrencyMismatch(
            f"The plan is priced in {plan.currency}; the wallet holds {currency}.",
            field="lookup_key",
        )
    return plan


def list_current(
    session: Session,
    *,
    mailbox_type: MailboxType | None = None,
    period: BillingPeriod | None = None,
    include_retired: bool = False,
) -> Sequence[Plan]:
    """Current versions, cheapest first within a period (a short table: no pagination)."""
    statement = select(Plan).where(Plan.superseded_at.is_(None))
    if not include_retired:
        statement = statement.where(Plan.status == PlanStatus.ACTIVE)
    if period is not None:
        statement = statement.where(Plan.period == period)
    plans = session.scalars(statement.order_by(Plan.lookup_key)).all()
    if mailbox_type is not None:
        # A JSON list column: filtered here, portable across SQLite and PostgreSQL.
        plans = [p for p in plans if mailbox_type.value in p.mailbox_types]
    return plans


def _check(values: dict[str, Any]) -> None:
    for field in ("slots", "price_cents", "addon_price_cents"):
        value = values.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidPlan(f"{field} is a whole number.", field=field)
        if value is not None and value < 0:
            raise InvalidPlan(f"{field} cannot be negative.", field=field)
    if "mailbox_types" in values and not values["mailbox_types"]:
        raise InvalidPlan("A plan covers at least one mailbox type.", field="mailbox_types")


def create(session: Session, spec: PlanSpec, *, actor: str) -> Plan:
    _check({"slots": spec.slots, "price_cents": spec.price_cents})
    _check({"addon_price_cents": spec.addon_price_cents, "mailbox_types": spec.mailbox_types})
    exists = session.scalar(select(Plan.id).where(Plan.lookup_key == spec.lookup_key).limit(1))
    if exists is not None:
        raise PlanExists(f"A plan has the lookup key {spec.lookup_key!r}.", field="lookup_key")
    plan = Plan(
        lookup_key=spec.lookup_key,
        version=1,
        name=spec.name,
        tier=spec.tier,
        period=spec.period,
        mailbox_types=[t.value for t in spec.mailbox_types],
        slots=spec.slots,
        price_cents=spec.price_cents,
        addon_price_cents=spec.addon_price_cents,
        currency=spec.currency,
    )
    session.add(plan)
    session.flush()
    _record(session, EventType.PLAN_CREATED, plan, actor)
    return plan


def change(session: Session, lookup_key: str, changes: dict[str, Any], *, actor: str) -> Plan:
    """A new version with `changes`; the old one is superseded (its subscribers keep it)."""
    _check(changes)
    old = current(session, lookup_key, for_update=True)
    values = {field: getattr(old, field) for field in CHANGEABLE}
    for field, value in changes.items():
        if field not in CHANGEABLE:
            raise InvalidPlan(f"{field} cannot be changed.", field=field)
        values[field] = [t.value for t in value] if field == "mailbox_types" else value
    if all(values[field] == getattr(old, field) for field in CHANGEABLE):
        return old
    old.superseded_at = clock.now()
    # The partial unique index allows one current version per key: retire the old row first.
    session.flush()
    plan = Plan(
        lookup_key=old.lookup_key,
        version=old.version + 1,
        period=old.period,
        currency=old.currency,
        status=old.status,
        retired_at=old.retired_at,
        **values,
    )
    session.add(plan)
    session.flush()
    _record(session, EventType.PLAN_CHANGED, plan, actor, changed=sorted(changes))
    return plan


def retire(session: Session, lookup_key: str, *, actor: str) -> Plan:
    """No new purchases; existing subscriptions keep renewing on their version."""
    plan = current(session, lookup_key, for_update=True)
    if plan.status != PlanStatus.RETIRED:
        plan.status = PlanStatus.RETIRED
        plan.retired_at = clock.now()
        session.flush()
        _record(session, EventType.PLAN_RETIRED, plan, actor)
    return plan


def _record(session: Session, type: EventType, plan: Plan, actor: str, **data: Any) -> None:
    events.record(
        session,
        workspace_id=None,
        type=type,
        subject_type="plan",
        subject_id=plan.id,
        actor=actor,
        lookup_key=plan.lookup_key,
        version=plan.version,
        **data,
    )
