"""Paying a wallet purchase: when the wallet is short and auto-recharge is on, top it up
first (a card charge, outside any transaction), then the purchase prices again and charges.

Every surface selling from the wallet (native subscriptions, Zapmail's purchases and add-ons)
goes through `pay_shortfall`, so the rule lives once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from mailfleet.billing.payments import service as payments
from mailfleet.billing.subscriptions.quotes import Quote
from mailfleet.config import Settings
from mailfleet.db import Database


def pay_shortfall(
    session: Session,
    database: Database,
    settings: Settings,
    workspace_id: uuid.UUID,
    price: Callable[[], Quote],
    *,
    actor: str,
) -> None:
    """Raise the quote's refusals; top the wallet up when it is short and auto-recharge is on.

    A short wallet without auto-recharge is left for the charge to refuse (402 naming the
    shortfall). The request's transaction is committed before the card is charged (nothing is
    written yet): the caller prices again afterwards.
    """
    quote = price()
    if quote.errors:
        raise quote.errors[0]
    if quote.shortfall_cents <= 0 or not quote.purse.auto_recharge:
        return
    session.commit()
    outcome = payments.recharge_for(database, settings, workspace_id, quote.shortfall_cents, actor)
    if not outcome.credited:
        short = quote.short()
        if short is not None:
            short.detail = f"{short.detail} Auto-recharge: {outcome.message or outcome.status}."
            raise short
