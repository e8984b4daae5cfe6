"""The plan table a fresh deployment sells: Zapmail's (../shared/reference/zapmail-api.md 2.1)
for GOOGLE and MICROSOFT, and SMTP / SMTP_DEDICATED plans priced per slot from settings with
the same period discounts. Seeding is idempotent: a key that exists (in any version, retired
or changed by an operator) is left alone.

With `billing_unified_provider` the Google and Microsoft plans each cover both types, so one
plan's slots hold either (the quota pools the types a subscription covers, billing.slots).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.billing.plans import service
from mailfleet.billing.plans.service import PlanSpec
from mailfleet.config import Settings
from mailfleet.models import BillingPeriod, MailboxType, Plan

P = BillingPeriod
# tier: (slots, {period: (price, add-on price per slot)}), in cents.
ZAPMAIL: dict[str, tuple[int, dict[BillingPeriod, tuple[int, int]]]] = {
    "STARTER": (10, {P.MONTHLY: (3900, 350), P.QUARTERLY: (10500, 975), P.YEARLY: (39000, 3900)}),
    "GROWTH": (30, {P.MONTHLY: (9900, 325), P.QUARTERLY: (27000, 900), P.YEARLY: (99000, 3300)}),
    "PRO": (100, {P.MONTHLY: (29900, 300), P.QUARTERLY: (81000, 810), P.YEARLY: (300000, 3000)}),
}
SEEDED_BY = "system:seed"


def lookup_key(mailbox_type: MailboxType, tier: str, period: BillingPeriod) -> str:
    return f"{mailbox_type.value.lower()}_{tier.lower()}_{period.value.lower()}"


def _name(mailbox_type: MailboxType, tier: str, period: BillingPeriod) -> str:
    label = {"GOOGLE": "Google", "MICROSOFT": "Microsoft", "SMTP": "SMTP"}
    kind = label.get(mailbox_type.value, "SMTP dedicated")
    return f"{kind} {tier.title()} ({period.value.lower()})"


def _discount(tier: str, period: BillingPeriod, *, addon: bool) -> tuple[int, int]:
    """Zapmail's period price over its monthly price times the months: (numerator, denominator)."""
    _, prices = ZAPMAIL[tier]
    index = 1 if addon else 0
    return prices[period][index], prices[P.MONTHLY][index] * period.months


def _smtp_price(per_slot_month: int, slots: int, tier: str, period: BillingPeriod) -> int:
    num, den = _discount(tier, period, addon=False)
    return per_slot_month * slots * period.months * num // den


def _smtp_addon(per_slot_month: int, tier: str, period: BillingPeriod) -> int:
    num, den = _discount(tier, period, addon=True)
    return per_slot_month * period.months * num // den


def table(settings: Settings) -> list[PlanSpec]:
    """Every plan of the default table, in a stable order."""
    google_microsoft = (MailboxType.GOOGLE, MailboxType.MICROSOFT)
    smtp_prices = {
        MailboxType.SMTP: settings.smtp_plan_slot_price_cents,
        MailboxType.SMTP_DEDICATED: settings.smtp_dedicated_plan_slot_price_cents,
    }
    specs: list[PlanSpec] = []
    for mailbox_type in MailboxType:
        for tier, (slots, prices) in ZAPMAIL.items():
            for period, (price, addon) in prices.items():
                if mailbox_type in google_microsoft:
                    covers = google_microsoft if settings.billing_unified_provider else ()
                    types = covers or (mailbox_type,)
                else:
                    per_slot = smtp_prices[mailbox_type]
                    price = _smtp_price(per_slot, slots, tier, period)
                    addon = _smtp_addon(per_slot, tier, period)
                    types = (mailbox_type,)
                specs.append(
                    PlanSpec(
                        lookup_key=lookup_key(mailbox_type, tier, period),
                        name=_name(mailbox_type, tier, period),
                        tier=tier,
                        period=period,
                        mailbox_types=types,
                        slots=slots,
                        price_cents=price,
                        addon_price_cents=addon,
                        currency=settings.billing_currency,
                    )
                )
    return specs


def seed(session: Session, settings: Settings, *, actor: str = SEEDED_BY) -> list[Plan]:
    """Create the plans of `table` whose keys do not exist yet; returns the ones created."""
    existing = set(session.scalars(select(Plan.lookup_key).distinct()))
    return [
        service.create(session, spec, actor=actor)
        for spec in table(settings)
        if spec.lookup_key not in existing
    ]
