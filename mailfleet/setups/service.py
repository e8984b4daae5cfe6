"""Quick setups: buy domains, then, once each is ACTIVE, order its mailboxes, then export them.

A setup is made paid (the wallet is debited for the names and for the slots the workspace is
short of, rule R16) or waiting for a payment link (AWAITING_PAYMENT: bought once the payment is
credited). From then on the sweep moves it along (`advance`): it holds no network call, since the
registrar, the mailbox providers and the sequencers are called by their own jobs. The caller
commits.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.billing import slots
from mailfleet.billing.subscriptions import addons
from mailfleet.billing.subscriptions import service as subscription_service
from mailfleet.billing.subscriptions.errors import SubscriptionNotFound
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.config import MailboxType, Settings
from mailfleet.domains.names import normalise_username
from mailfleet.exceptions import Unprocessable
from mailfleet.kit import clock
from mailfleet.models import DomainPurchase, ExportApp, Payment, PaymentStatus
from mailfleet.models.setup import QuickSetup, QuickSetupStatus
from mailfleet.policy import PolicyProfile
from mailfleet.registrars import purchases
from mailfleet.registrars.service import Offer, Verdict
from mailfleet.setups import transitions

S = QuickSetupStatus
# How often the sweep looks at a setup that waits (payment, registration, provisioning).
POLL = timedelta(seconds=30)


@dataclass(frozen=True)
class Wanted:
    """One mailbox a setup places."""

    username: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class Priced:
    """What a setup costs: its names by registration term, and the slots it must add."""

    quotes: list[purchases.Quote]
    addon_slots: int
    addon_cents: int

    @property
    def total_cents(self) -> int:
        return sum(q.total_cents for q in self.quotes) + self.addon_cents


def check_mailboxes(
    names: Sequence[str],
    mailboxes: Mapping[str, Sequence[Wanted]],
    mailbox_type: MailboxType,
    profile: PolicyProfile,
) -> dict[str, list[dict[str, str]]]:
    """The mailboxes by domain, usernames normalised; refused (422, naming the field) when they
    name a domain not bought here, break the username rule, repeat, or pass the domain limit."""
    limit = profile.domain_limit(mailbox_type)
    checked: dict[str, list[dict[str, str]]] = {}
    for name, wanted in mailboxes.items():
        if name not in names:
            raise Unprocessable(
                f"{name} is not among the domains bought.", code="validation_error", field=name
            )
        if len(wanted) > limit:
            raise Unprocessable(
                f"{name}: at most {limit} {mailbox_type.value} mailboxes a domain.",
                code="validation_error",
                field=name,
            )
        usernames = [normalise_username(w.username, f"{name}[{i}]") for i, w in enumerate(wanted)]
        if len(set(usernames)) != len(usernames):
            raise Unprocessable(
                f"{name}: a username is given twice.", code="validation_error", field=name
            )
        checked[name] = [
            {"username": u, "first_name": w.first_name, "last_name": w.last_name}
            for u, w in zip(usernames, wanted, strict=True)
        ]
    return checked


def check_apps(apps: Sequence[str]) -> list[str]:
    """The export apps, upper-cased; one Mailfleet does not know is a 422 naming it."""
    known = {app.value for app in ExportApp}
    checked = [app.strip().upper() for app in apps]
    for index, app in enumerate(checked):
        if app not in known:
            raise Unprocessable(
                f"Unknown app {apps[index]!r}: one of {', '.join(sorted(known))}.",
                code="validation_error",
                field=f"apps[{index}]",
            )
    return list(dict.fromkeys(checked))


def price(
    session: Session,
    settings: Settings,
    workspace_id: uuid.UUID,
    quotes: list[purchases.Quote],
    mailbox_type: MailboxType,
    requested: int,
) -> Priced:
    """R16: the names, plus add-on slots for only the mailboxes the workspace has no slot for,
    on its newest subscription holding that type."""
    quota = slots.quota(session, workspace_id, mailbox_type, clock.now())
    short = max(0, requested - (quota.allocated - quota.used))
    if not short:
        return Priced(quotes, 0, 0)
    subscription = subscription_service.newest_holding(session, workspace_id, mailbox_type)
    if subscription is None:
        raise SubscriptionNotFound(
            f"The mailboxes need {short} more {mailbox_type.value} slot(s), added to an active "
            "subscription; buy one first."
        )
    quote = addons.quote_addon(
        session, subscription, mailbox_type, short, settings.billing_currency
    )
    if quote.errors:
        raise quote.errors[0]
    return Priced(quotes, short, sum(line.amount_cents for line in quote.lines))


def create(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    priced: Priced,
    registrar: str,
    mailbox_type: MailboxType,
    mailboxes: dict[str, list[dict[str, str]]],
    profile: PolicyProfile,
    apps: Sequence[str],
    export_account_id: uuid.UUID | None,
    payment_id: uuid.UUID | None,
    actor: str,
) -> QuickSetup:
    """Record the setup: AWAITING_PAYMENT with `payment_id`, else paid now (`pay`)."""
    offers = [
        {**_offer_json(offer), "years": quote.years}
        for quote in priced.quotes
        for offer in quote.offers
    ]
    setup = QuickSetup(
        workspace_id=workspace_id,
        status=S.AWAITING_PAYMENT,
        mailbox_type=mailbox_type,
        payment_id=payment_id,
        offers=offers,
        registrar=registrar,
        total_cents=priced.total_cents,
        addon_slots=priced.addon_slots,
        mailboxes=mailboxes,
        profile=profile.rules_json(),
        apps=list(apps),
        export_account_id=export_account_id,
        next_check_at=clock.now() + POLL,
        created_by=actor,
    )
    session.add(setup)
    session.flush()
    transitions.record_start(session, setup, actor=actor)
    return setup


def _offer_json(offer: Offer) -> dict[str, Any]:
    fields = dataclasses.asdict(offer)
    fields["verdict"] = offer.verdict.value
    return fields


def quotes_of(setup: QuickSetup) -> list[purchases.Quote]:
    """The stored offers as the native purchase takes them, one quote per term."""
    ordered = sorted(setup.offers, key=lambda item: item["years"])
    quotes = []
    for years, group in groupby(ordered, key=lambda item: item["years"]):
        offers = [
            Offer(
                **{
                    **{k: v for k, v in item.items() if k != "years"},
                    "verdict": Verdict(item["verdict"]),
                }
            )
            for item in group
        ]
        total = sum((offer.price_cents or 0) * years for offer in offers)
        quotes.append(purchases.Quote(offers, years, total, offers[0].currency))
    return quotes


def pay(session: Session, settings: Settings, setup: QuickSetup, *, actor: str) -> None:
    """Buy the names and the missing slots from the wallet (402 when it is short: the caller's
    transaction then writes nothing), and wait for the domains."""
    rows = []
    for quote in quotes_of(setup):
        rows += purchases.purchase(
            session,
            settings,
            quote,
            registrar=setup.registrar,
            workspace_id=setup.workspace_id,
            actor=actor,
        )
    if setup.addon_slots:
        subscription = subscription_service.newest_holding(
            session, setup.workspace_id, setup.mailbox_type
        )
        if subscription is None:
            raise SubscriptionNotFound("No active subscription to add the slots to.")
        addons.add(
            session,
            setup.workspace_id,
            subscription.public_id,
            setup.mailbox_type,
            setup.addon_slots,
            default_currency=settings.billing_currency,
            actor=actor,
        )
    setup.purchase_ids = [str(row.id) for row in rows]
    transitions.move(session, setup, S.WAITING_FOR_DOMAINS, actor=actor, next_check=POLL)


def payment_state(session: Session, setup: QuickSetup) -> PaymentStatus | None:
    if setup.payment_id is None:
        return None
    payment = session.get(Payment, setup.payment_id)
    return payment.status if payment else None


def wallet_holds(session: Session, setup: QuickSetup) -> bool:
    return wallet_service.balance_cents(session, setup.workspace_id) >= setup.total_cents


def get(session: Session, workspace_id: uuid.UUID, setup_id: uuid.UUID) -> QuickSetup | None:
    setup = session.get(QuickSetup, setup_id)
    return setup if setup is not None and setup.workspace_id == workspace_id else None


def purchases_of(session: Session, setup: QuickSetup) -> list[DomainPurchase]:
    """The setup's purchases, in the order its names were given."""
    ids = [uuid.UUID(value) for value in setup.purchase_ids]
    rows = {
        row.id: row
        for row in session.scalars(select(DomainPurchase).where(DomainPurchase.id.in_(ids)))
    }
    order = {item["name"]: index for index, item in enumerate(setup.offers)}
    return sorted(rows.values(), key=lambda row: order.get(row.name, len(order)))
