"""Charge a workspace's wallet for something it buys: one debit, one invoice, in the caller's
transaction (the caller commits), and a recharge asked for when the balance falls under the
wallet's auto-recharge threshold.

A short wallet raises `PaymentRequired` naming the shortfall and nothing changes; topping up
before the charge (auto-recharge for a purchase or renewal) is the caller's step, done outside
any write transaction (billing.payments).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.billing.invoices import service as invoices
from mailfleet.billing.invoices.service import Line
from mailfleet.billing.wallet import service as wallet
from mailfleet.db import enqueue_after_commit
from mailfleet.models import Invoice, LedgerKind

# The job (billing.payments.tasks) that charges the saved card off-session.
RECHARGE_TASK = "billing.recharge"


@dataclass(frozen=True)
class Charge:
    movement: wallet.Movement | None  # None when the lines came to nothing (fully credited)
    invoice: Invoice


def charge(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    kind: LedgerKind,
    lines: list[Line],
    reason: str,
    actor: str,
    subscription_id: uuid.UUID | None = None,
    dedupe_key: str | None = None,
) -> Charge:
    """Debit the lines' total and issue their invoice. Negative lines (proration credits)
    reduce the total; a credit larger than the charge goes back to the wallet as a
    PRORATION_CREDIT entry."""
    purse = wallet.wallet_for(session, workspace_id)
    total = invoices.total_of(lines)
    reference = wallet.Reference("subscription", str(subscription_id)) if subscription_id else None
    movement: wallet.Movement | None = None
    if total > 0:
        movement = wallet.debit(
            session,
            workspace_id,
            total,
            kind=kind,
            reason=reason,
            actor=actor,
            reference=reference,
            dedupe_key=dedupe_key,
        )
    elif total < 0:
        movement = wallet.credit(
            session,
            workspace_id,
            -total,
            kind=LedgerKind.PRORATION_CREDIT,
            reason=reason,
            actor=actor,
            reference=reference,
            dedupe_key=dedupe_key,
        )
    if movement is not None and not movement.applied:
        # Charged already under this key (a rerun renewal, a retried request): same invoice.
        earlier = session.scalars(
            select(Invoice).where(Invoice.wallet_entry_id == movement.entry_id)
        ).first()
        if earlier is not None:
            return Charge(movement, earlier)
    invoice = invoices.issue(
        session,
        workspace_id,
        kind=kind,
        lines=lines,
        currency=purse.currency,
        actor=actor,
        subscription_id=subscription_id,
        wallet_entry_id=movement.entry_id if movement else None,
    )
    if movement is not None and movement.applied and total > 0:
        ask_recharge_if_low(session, workspace_id, movement.balance_after_cents)
    return Charge(movement, invoice)


def ask_recharge_if_low(session: Session, workspace_id: uuid.UUID, balance_cents: int) -> None:
    """After a debit: enqueue the recharge job (after commit) when auto-recharge is on and the
    balance is under its threshold. The job decides (card on file, one in flight, daily cap)."""
    purse = wallet.wallet_for(session, workspace_id)
    if purse.auto_recharge_enabled and balance_cents < purse.auto_recharge_threshold_cents:
        enqueue_after_commit(session, RECHARGE_TASK, str(workspace_id))
