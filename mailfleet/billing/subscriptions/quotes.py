"""Quotes: what a purchase would cost and which rules would refuse it, computed without writing
anything (no wallet is made, no row locked beyond reads), so `dry_run=true` changes nothing
and the real purchase runs the same arithmetic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.billing.errors import PaymentRequired
from mailfleet.billing.invoices.service import Line, total_of
from mailfleet.exceptions import MailfleetError
from mailfleet.models import Wallet


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str


@dataclass(frozen=True)
class Purse:
    """A wallet as read, or the empty one a workspace without a wallet would get."""

    balance_cents: int
    currency: str
    auto_recharge: bool


def purse_of(session: Session, workspace_id: uuid.UUID, default_currency: str) -> Purse:
    wallet = session.scalars(select(Wallet).where(Wallet.workspace_id == workspace_id)).first()
    if wallet is None:
        return Purse(0, default_currency, False)
    return Purse(wallet.balance_cents, wallet.currency, wallet.auto_recharge_enabled)


@dataclass
class Quote:
    lines: list[Line]
    purse: Purse
    # Rules that refuse the purchase (besides a short wallet, which `shortfall_cents` shows).
    errors: list[MailfleetError] = field(default_factory=list)

    @property
    def subtotal_cents(self) -> int:
        return total_of([line for line in self.lines if line.amount_cents >= 0])

    @property
    def credit_cents(self) -> int:
        return -total_of([line for line in self.lines if line.amount_cents < 0])

    @property
    def total_cents(self) -> int:
        # A credit larger than the charge goes back to the wallet (billing.charges).
        return total_of(self.lines)

    @property
    def shortfall_cents(self) -> int:
        return max(0, self.total_cents - self.purse.balance_cents)

    def short(self) -> PaymentRequired | None:
        if self.shortfall_cents <= 0:
            return None
        currency = self.purse.currency
        return PaymentRequired(
            f"The wallet holds {_money(self.purse.balance_cents, currency)}; this costs "
            f"{_money(self.total_cents, currency)}, {_money(self.shortfall_cents, currency)} "
            "more than the balance.",
            shortfall_cents=self.shortfall_cents,
        )

    def refusals(self) -> list[Refusal]:
        found = [*self.errors, *filter(None, [self.short()])]
        return [Refusal(error.code, error.detail) for error in found]

    def raise_refusal(self) -> None:
        """Raise the first rule that refuses the purchase, the shortfall last."""
        if self.errors:
            raise self.errors[0]
        short = self.short()
        if short is not None:
            raise short

    def payload(self) -> dict[str, Any]:
        return {
            "lines": [line.as_json() for line in self.lines],
            "subtotal_cents": self.subtotal_cents,
            "credit_cents": self.credit_cents,
            "total_cents": self.total_cents,
            "currency": self.purse.currency,
            "balance_cents": self.purse.balance_cents,
            "shortfall_cents": self.shortfall_cents,
            "refusals": [{"code": r.code, "detail": r.detail} for r in self.refusals()],
        }


def _money(cents: int, currency: str) -> str:
    # As billing.wallet words a short balance, so a quote and a refusal read the same.
    return f"{cents // 100}.{cents % 100:02d} {currency}"
