"""Refunds: money of a paid top-up or recharge given back to the card, and taken out of the
wallet (ledger kind REFUND, a debit; never below zero).

An operator's refund runs in three steps so that no provider call holds a write transaction
and the wallet can never pay out money it no longer holds:

1. `reserve` (the caller commits): the wallet row is locked, the amount checked against what
   is left to refund of the payment and against the balance, and the REFUND debit written with
   the request's dedupe key `refund:{payment}:{request}`. A retried request (same
   Idempotency-Key) finds its debit and does not check or debit again.
2. `send`: the provider's refund, with the idempotency key `refund:{payment}:{request}`, so a
   retry gets the provider's first refund back rather than a second one.
3. A refusal returns the debit (a positive REFUND entry, `refund-returned:...`); no answer at
   all (ProviderUnreachable) keeps it: the refund may have been made, and the webhook settles
   it either way.

The provider's `charge.refunded` event carries the charge's cumulative `amount_refunded`.
`settle` debits only what that total has over the REFUND entries already written for the
payment, under the key `stripe:refunded:{charge}:{total}`, so the same refund never debits
twice, whether it came from our call (already debited in step 1) or was made at the provider
directly (debited here), and however often the event is delivered. When the wallet holds less
than the difference (the money was spent meanwhile) it debits what is there and logs the rest:
the balance never goes negative.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailfleet.billing.errors import InvalidAmount, PaymentRequired
from mailfleet.billing.payments.errors import PaymentNotFound, PaymentProviderFailed
from mailfleet.billing.payments.protocol import (
    PaymentProviderError,
    ProviderUnreachable,
    Refund,
    RefundRequest,
)
from mailfleet.billing.payments.registry import provider_for
from mailfleet.billing.payments.service import checkout_dedupe_key, pi_dedupe_key
from mailfleet.billing.payments.transitions import PaymentStatusConflict
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import LedgerKind, Payment, PaymentPurpose, PaymentStatus, Wallet, WalletEntry

log = logging.getLogger(__name__)

REFUNDABLE = (PaymentPurpose.TOPUP, PaymentPurpose.RECHARGE)


@dataclass(frozen=True)
class Reserved:
    payment_id: uuid.UUID
    workspace_id: uuid.UUID
    amount_cents: int
    currency: str
    # The provider object that paid (pi_... or cs_...).
    paid_by: str
    key: str
    entry_id: uuid.UUID
    balance_after_cents: int


def request_key(payment_id: uuid.UUID, request: str) -> str:
    return f"refund:{payment_id}:{request}"


def refunded_cents(session: Session, payment: Payment) -> int:
    """What the ledger has refunded of the payment so far (debits less returned debits)."""
    total = session.scalar(
        select(func.coalesce(func.sum(WalletEntry.amount_cents), 0)).where(
            WalletEntry.wallet_id == payment.wallet_id,
            WalletEntry.kind == LedgerKind.REFUND,
            WalletEntry.reference_type == "payment",
            WalletEntry.reference_id == str(payment.id),
        )
    )
    return -int(total or 0)


def paid_by(session: Session, payment: Payment) -> str | None:
    """The provider object whose confirmation credited the payment: the credit's dedupe key
    names it (a recharge paid through a Checkout after authentication was credited from that
    Checkout, not from its declined PaymentIntent)."""
    keys = session.scalars(
        select(WalletEntry.dedupe_key).where(
            WalletEntry.wallet_id == payment.wallet_id,
            WalletEntry.kind == LedgerKind.TOPUP,
            WalletEntry.reference_type == "payment",
            WalletEntry.reference_id == str(payment.id),
        )
    ).all()
    for key in keys:
        for prefix in (pi_dedupe_key(""), checkout_dedupe_key("")):
            if key and key.startswith(prefix):
                return key[len(prefix) :]
    return None


def _move(
    session: Session,
    payment: Payment,
    signed_cents: int,
    *,
    reason: str,
    actor: str,
    dedupe_key: str,
) -> wallet_service.Movement:
    # REFUND is signed (a debit, or the return of a debit the provider refused), which the
    # wallet's credit()/debit() split by kind does not express; _move keeps every other rule
    # (never negative, dedupe, events).
    return wallet_service._move(  # noqa: SLF001
        session,
        payment.workspace_id,
        signed_cents,
        LedgerKind.REFUND,
        reason,
        actor,
        wallet_service.Reference("payment", str(payment.id)),
        dedupe_key,
        payment.currency,
    )


def _lock_wallet(session: Session, wallet_id: uuid.UUID) -> None:
    """Serialise refunds of one wallet: the row lock on PostgreSQL, the write lock on SQLite,
    taken before what is left to refund is read."""
    session.execute(update(Wallet).where(Wallet.id == wallet_id).values(updated_at=clock.now()))


def reserve(
    session: Session,
    payment_id: uuid.UUID,
    amount_cents: object,
    *,
    reason: str,
    request: str,
    actor: str,
) -> Reserved:
    """Check the refund and debit the wallet for it (step 1; the caller commits)."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound(f"Payment {payment_id} not found.")
    key = request_key(payment.id, request)
    _lock_wallet(session, payment.wallet_id)
    earlier = session.scalars(
        select(WalletEntry).where(
            WalletEntry.wallet_id == payment.wallet_id, WalletEntry.dedupe_key == key
        )
    ).first()
    source = paid_by(session, payment)
    if earlier is None:
        amount = _check(session, payment, amount_cents, source)
        movement = _debit(session, payment, amount, reason=reason, actor=actor, key=key)
        entry_id, balance = movement.entry_id, movement.balance_after_cents
    else:
        amount, entry_id, balance = -earlier.amount_cents, earlier.id, earlier.balance_after_cents
    assert source is not None
    return Reserved(
        payment.id, payment.workspace_id, amount, payment.currency, source, key, entry_id, balance
    )


def _check(session: Session, payment: Payment, amount_cents: object, source: str | None) -> int:
    amount = wallet_service.check_amount(amount_cents)
    if payment.purpose not in REFUNDABLE or payment.status != PaymentStatus.SUCCEEDED:
        raise PaymentStatusConflict(
            f"Only a paid top-up or recharge is refunded; this is a {payment.status.value} "
            f"{payment.purpose.value.lower()}."
        )
    if source is None:
        raise PaymentStatusConflict("The wallet was never credited from this payment.")
    left = payment.amount_cents - refunded_cents(session, payment)
    if amount > left:
        raise InvalidAmount(
            f"At most {left} cents of this payment are left to refund.", field="amount_cents"
        )
    return amount


def _debit(
    session: Session, payment: Payment, amount: int, *, reason: str, actor: str, key: str
) -> wallet_service.Movement:
    try:
        return _move(
            session, payment, -amount, reason=f"refund: {reason}", actor=actor, dedupe_key=key
        )
    except PaymentRequired as short:
        short.detail = (
            f"The wallet no longer holds the money to refund: {short.detail} Refund less, or "
            "credit the wallet first."
        )
        raise


def send(database: Database, settings: Settings, reserved: Reserved, *, actor: str) -> Refund:
    """Ask the provider for the reserved refund (no transaction open); a refusal returns the
    debit and raises PaymentProviderFailed (502)."""
    metadata = {
        "payment_id": str(reserved.payment_id),
        "workspace_id": str(reserved.workspace_id),
        "refund_request": reserved.key,
    }
    try:
        return provider_for(settings).refund(
            RefundRequest(reserved.paid_by, reserved.amount_cents, reserved.key, metadata)
        )
    except ProviderUnreachable as exc:
        log.warning("refund %s: no answer from the provider: %s", reserved.key, exc)
        raise PaymentProviderFailed(
            f"The payment provider did not answer ({exc}); the wallet stays debited. Retry "
            "with the same Idempotency-Key: the provider makes the refund at most once."
        ) from exc
    except PaymentProviderError as exc:
        log.warning("refund %s refused: %s", reserved.key, exc)
        with database.transaction() as session:
            payment = session.get(Payment, reserved.payment_id)
            assert payment is not None
            _move(
                session,
                payment,
                reserved.amount_cents,
                reason=f"refund refused by the provider: {exc}",
                actor=actor,
                dedupe_key=f"refund-returned:{reserved.key}",
            )
        raise PaymentProviderFailed(f"The payment provider refused the refund: {exc}") from exc


def settle(session: Session, payment: Payment, charge: dict[str, Any], *, actor: str) -> str:
    """Apply a charge.refunded event: debit what its cumulative total has over the ledger."""
    total = int(charge.get("amount_refunded") or 0)
    missing = min(total, payment.amount_cents) - refunded_cents(session, payment)
    if missing <= 0:
        return "ignored"
    purse = session.get(Wallet, payment.wallet_id)
    assert purse is not None
    _lock_wallet(session, purse.id)
    session.refresh(purse)
    take = min(missing, purse.balance_cents)
    if take < missing:
        log.warning(
            "payment %s: %d cents refunded at the provider could not be taken from the wallet "
            "(it holds %d)",
            payment.id,
            missing - take,
            purse.balance_cents,
        )
    if take <= 0:
        return "ignored"
    _move(
        session,
        payment,
        -take,
        reason=f"refunded at the provider ({charge.get('id')})",
        actor=actor,
        dedupe_key=f"stripe:refunded:{charge.get('id')}:{total}",
    )
    return "applied"
