"""`POST /v2/domains/buy` and quick setup: priced at the registrar (no transaction open), then
started as a quick setup (`mailfleet.setups`): paid from the wallet through the native purchase
(one debit per registration term, registration in the worker), or answered with a payment link
for the amount, after whose credit the purchase goes ahead by itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

from fastapi import Request

from mailfleet.auth.dependencies import Caller, surface_auth
from mailfleet.compat.zapmail.registration import schemas
from mailfleet.config import MailboxType, Settings
from mailfleet.models.enums import Role
from mailfleet.registrars import purchases, service
from mailfleet.registrars.errors import TooManyYears
from mailfleet.registrars.registry import registrar_for
from mailfleet.setups import starting
from mailfleet.setups.service import Wanted


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


def buy(
    request: Request,
    caller: Caller,
    body: schemas.Buy,
    *,
    mailboxes: Mapping[str, Sequence[Wanted]] | None = None,
    provider: MailboxType | None = None,
    apps: Sequence[str] = (),
    account_id: uuid.UUID | None = None,
) -> tuple[dict[str, Any], starting.Started]:
    """Priced at the registrar with no transaction open, then started as a quick setup: paid
    now from the wallet, or a payment link after which the purchase goes ahead by itself."""
    settings: Settings = request.app.state.settings
    workspace_id = caller.workspace(Role.EDITOR)
    registrar = registrar_for(settings)
    names = [item.domain_name for item in body.domains]
    # Priced with no transaction open: the registrar is a network call (no search quota spent).
    offers = service.check(settings, registrar, None, workspace_id=workspace_id, names=names)
    quotes = terms(offers, [item.years for item in body.domains], registrar.max_years)
    wanted = starting.Request(
        workspace_id=workspace_id,
        quotes=quotes,
        registrar=registrar.name,
        mailbox_type=provider or MailboxType.GOOGLE,
        mailboxes=mailboxes or {},
        profile=surface_auth(request).profile,
        use_wallet=body.use_wallet,
        apps=apps,
        export_account_id=account_id,
    )
    started = starting.start(request.app.state.db, settings, wanted, actor=caller.principal.actor)
    return _answer(started, offers, body, quotes[0].currency), started


def _answer(
    started: starting.Started, offers: list[service.Offer], body: schemas.Buy, currency: str
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "totalAmount": started.total_cents / 100,
        "currency": currency,
        "paidFromWallet": started.paid,
        "paymentLink": started.payment_link,
        "walletBalance": None,
    }
    if not started.paid:
        priced = [
            schemas.offer(o, item.years) for o, item in zip(offers, body.domains, strict=True)
        ]
        return {"domains": priced, **answer}
    before, after = started.balance_before, started.balance_after
    answer["walletBalance"] = {
        "previousBalance": before / 100,
        "amountDeducted": (before - after) / 100,
        "currentBalance": after / 100,
    }
    return {"domains": [schemas.purchased(row) for row in started.purchases], **answer}
