"""`POST /v2/domains/buy`: priced at the registrar (no transaction open), then either paid from
the wallet through the native purchase (one debit per registration term, registration in the
worker) or answered with a payment link for the amount (a Checkout Session opened after the
commit; the wallet is credited by the provider's signed webhook).
"""

from __future__ import annotations

import uuid
from itertools import groupby
from typing import Any

from fastapi import Request

from mailfleet.auth.dependencies import Caller
from mailfleet.billing.payments import checkout
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.compat.zapmail.registration import schemas
from mailfleet.config import Settings
from mailfleet.models.enums import PaymentPurpose, Role
from mailfleet.registrars import purchases, service
from mailfleet.registrars.errors import TooManyYears
from mailfleet.registrars.registry import registrar_for


def terms(offers: list[service.Offer], years: list[int], max_years: int) -> list[purchases.Quote]:
    """One native quote per registration term, every name checked first in the body's order
    (refusals name `names[i]` as given; the caller renames them)."""
    longest = max(years)
    try:
        purchases.quote(offers, longest, max_years)
    except TooManyYears as exc:
        exc.field = f"domains[{years.index(longest)}].years"
        raise
    paired = sorted(zip(years, range(len(offers)), strict=True))
    quotes = []
    for term, group in groupby(paired, key=lambda pair: pair[0]):
        chosen = [offers[index] for _, index in group]
        total = sum((offer.price_cents or 0) * term for offer in chosen)
        quotes.append(purchases.Quote(chosen, term, total, chosen[0].currency))
    return quotes


def buy(request: Request, caller: Caller, body: schemas.Buy) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    workspace_id = caller.workspace(Role.EDITOR)
    registrar = registrar_for(settings)
    names = [item.domain_name for item in body.domains]
    # Priced with no transaction open: the registrar is a network call (no search quota spent).
    offers = service.check(settings, registrar, None, workspace_id=workspace_id, names=names)
    quotes = terms(offers, [item.years for item in body.domains], registrar.max_years)
    total = sum(q.total_cents for q in quotes)
    currency = quotes[0].currency
    if body.use_wallet:
        paid = _from_wallet(request, caller, workspace_id, offers, quotes, total, registrar.name)
        if paid is not None:
            return paid
    return _payment_link(request, caller, workspace_id, offers, body, total, currency)


def _from_wallet(
    request: Request,
    caller: Caller,
    workspace_id: uuid.UUID,
    offers: list[service.Offer],
    quotes: list[purchases.Quote],
    total: int,
    registrar: str,
) -> dict[str, Any] | None:
    """The purchase paid from the wallet; None when the wallet is short (nothing written)."""
    order = {offer.name: index for index, offer in enumerate(offers)}
    with request.app.state.db.transaction() as session:
        before = wallet_service.balance_cents(session, workspace_id)
        if before < total:
            return None
        rows = []
        for priced in quotes:
            rows += purchases.purchase(
                session,
                request.app.state.settings,
                priced,
                registrar=registrar,
                workspace_id=workspace_id,
                actor=caller.principal.actor,
            )
        after = wallet_service.balance_cents(session, workspace_id)
        # Answered in the body's order (the quotes are grouped by term).
        rows.sort(key=lambda row: order[row.name])
        return {
            "domains": [schemas.purchased(row) for row in rows],
            "totalAmount": total / 100,
            "currency": quotes[0].currency,
            "paidFromWallet": True,
            "paymentLink": None,
            "walletBalance": {
                "previousBalance": before / 100,
                "amountDeducted": (before - after) / 100,
                "currentBalance": after / 100,
            },
        }


def _payment_link(
    request: Request,
    caller: Caller,
    workspace_id: uuid.UUID,
    offers: list[service.Offer],
    body: schemas.Buy,
    total: int,
    currency: str,
) -> dict[str, Any]:
    """A Checkout Session for the amount still missing (all of it without `useWallet`)."""
    settings: Settings = request.app.state.settings
    checkout.require_provider(settings)
    database = request.app.state.db
    with database.transaction() as session:
        held = wallet_service.balance_cents(session, workspace_id) if body.use_wallet else 0
        purse = wallet_service.wallet_for(session, workspace_id)
        payment = checkout.record_payment(
            session,
            settings,
            purse,
            purpose=PaymentPurpose.TOPUP,
            amount_cents=total - max(0, held),
            actor=caller.principal.actor,
        )
        payment_id = payment.id
    # After the commit: no provider call while the write lock is held.
    opened = checkout.open_checkout(database, settings, payment_id)
    return {
        "domains": [
            schemas.offer(offer, item.years)
            for offer, item in zip(offers, body.domains, strict=True)
        ],
        "totalAmount": total / 100,
        "currency": currency,
        "paidFromWallet": False,
        "paymentLink": opened.url,
        "walletBalance": None,
    }
