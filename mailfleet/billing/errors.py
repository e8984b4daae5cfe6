"""The errors of billing (plans, wallet, payments, subscriptions), each with its HTTP status and
stable code. Surfaces map the codes to their own wording."""

from __future__ import annotations

from mailfleet.exceptions import MailfleetError, NotFound, Unprocessable


class PaymentRequired(MailfleetError):
    """402: the wallet is short. The detail names the shortfall; `shortfall_cents` carries it."""

    status = 402
    code = "insufficient_funds"
    title = "Payment required"

    def __init__(self, detail: str, *, shortfall_cents: int, **kwargs: object) -> None:
        super().__init__(detail, **kwargs)  # type: ignore[arg-type]
        self.shortfall_cents = shortfall_cents


class InvalidAmount(Unprocessable):
    code = "invalid_amount"


class CurrencyMismatch(Unprocessable):
    code = "currency_mismatch"


class WalletNotFound(NotFound):
    code = "wallet_not_found"
