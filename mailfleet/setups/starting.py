"""Starting a quick setup (or a domain purchase) from a surface request, which it commits:
paid from the wallet at once when asked and the wallet holds the total, else a payment link
for what is missing. The link's Checkout is opened after the commit (no write lock held across
the provider call); once its payment is credited the sweep buys (`tasks.advance`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mailfleet.billing.payments import checkout
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.config import MailboxType, Settings
from mailfleet.db import Database
from mailfleet.models import DomainPurchase, PaymentPurpose
from mailfleet.policy import PolicyProfile
from mailfleet.registrars import purchases
from mailfleet.setups import service, tasks
from mailfleet.setups.service import Wanted


@dataclass(frozen=True)
class Request:
    """What a surface asks for: names priced by term, and mailboxes per name."""

    workspace_id: uuid.UUID
    quotes: list[purchases.Quote]
    registrar: str
    mailbox_type: MailboxType
    mailboxes: Mapping[str, Sequence[Wanted]]
    profile: PolicyProfile
    use_wallet: bool
    apps: Sequence[str] = ()
    export_account_id: uuid.UUID | None = None


@dataclass
class Started:
    setup_id: uuid.UUID
    total_cents: int
    addon_slots: int
    addon_cents: int
    paid: bool
    purchases: list[DomainPurchase] = field(default_factory=list)
    balance_before: int = 0
    balance_after: int = 0
    payment_link: str | None = None


def start(database: Database, settings: Settings, wanted: Request, *, actor: str) -> Started:
    names = [offer.name for quote in wanted.quotes for offer in quote.offers]
    requested = sum(len(items) for items in wanted.mailboxes.values())
    apps = service.check_apps(wanted.apps)
    with database.transaction() as session:
        checked = service.check_mailboxes(
            names, wanted.mailboxes, wanted.mailbox_type, wanted.profile
        )
        priced = service.price(
            session, settings, wanted.workspace_id, wanted.quotes, wanted.mailbox_type, requested
        )
        before = wallet_service.balance_cents(session, wanted.workspace_id)
        pay_now = wanted.use_wallet and before >= priced.total_cents
        payment_id = None
        if not pay_now:
            checkout.require_provider(settings)
            held = before if wanted.use_wallet else 0
            payment_id = checkout.record_payment(
                session,
                settings,
                wallet_service.wallet_for(session, wanted.workspace_id),
                purpose=PaymentPurpose.TOPUP,
                amount_cents=priced.total_cents - max(0, held),
                actor=actor,
            ).id
        setup = service.create(
            session,
            workspace_id=wanted.workspace_id,
            priced=priced,
            registrar=wanted.registrar,
            mailbox_type=wanted.mailbox_type,
            mailboxes=checked,
            profile=wanted.profile,
            apps=apps,
            export_account_id=wanted.export_account_id,
            payment_id=payment_id,
            actor=actor,
        )
        started = Started(
            setup.id, priced.total_cents, priced.addon_slots, priced.addon_cents, pay_now
        )
        if pay_now:
            service.pay(session, settings, setup, actor=actor)
            started.purchases = service.purchases_of(session, setup)
            started.balance_before = before
            started.balance_after = wallet_service.balance_cents(session, wanted.workspace_id)
            tasks.advance_soon(session, setup.id)
    if payment_id is not None:
        started.payment_link = checkout.open_checkout(database, settings, payment_id).url
    return started
