"""Payments: top-ups through a Checkout, a saved card for auto-recharge, and recharges.

Money moves into a wallet only from a provider's confirmed outcome, under a dedupe key per
provider object, so a webhook and the synchronous path that saw the same PaymentIntent credit
once between them. Provider calls never run inside a write transaction: the Payment row is
committed first (its id is the provider's idempotency key), the provider is called, and the
outcome is recorded in a second transaction.

For purchases and renewals (the subscriptions and renewals packages call this):

    recharge_for(runtime_or_db, settings, workspace_id, needed_cents, actor) -> RechargeOutcome

  Call it OUTSIDE any write transaction (it opens and commits its own; on SQLite a caller
  holding the write lock would wait on itself), typically after a charge raised
  PaymentRequired(shortfall_cents=...) and the caller rolled back. When auto-recharge is
  enabled, a card is saved, no recharge is in flight and the daily cap allows it, it records a
  RECHARGE Payment (committed), charges the saved card off-session for
  max(needed_cents, wallet.auto_recharge_amount_cents) with idempotency key
  f"recharge:{payment.id}", and on a succeeded PaymentIntent credits the wallet at once
  (TOPUP entry, dedupe key f"stripe:pi:{pi_id}"; the later payment_intent.succeeded webhook
  finds it applied). `outcome.credited` is True when the wallet got the money; then retry the
  charge in a new transaction. Otherwise `outcome.status` says why not ("not_enabled",
  "no_card", "not_configured", "in_flight", "cap_reached", "declined", "requires_action",
  "processing", "error"; "requires_action" also when an earlier recharge still waits for
  the customer to authenticate the card: see `awaiting_action`) and `outcome.message` is a
  sentence for the customer; raise the
  original PaymentRequired then. It never raises for card outcomes. `runtime_or_db` is a jobs
  Runtime or a db.Database.

The "billing.recharge" job (tasks.py) runs the same charge with needed_cents=0 when a debit
left the balance under the threshold.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailfleet.billing.payments import transitions
from mailfleet.billing.payments.protocol import Charge, PaymentProviderError
from mailfleet.billing.payments.registry import provider_for
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import LedgerKind, Payment, PaymentPurpose, PaymentStatus, Wallet

if TYPE_CHECKING:
    from mailfleet.jobs.queue import Runtime

log = logging.getLogger(__name__)

ACTOR = "system:payments"
# How long a recharge that asks for authentication blocks a new one: the life of the
# Checkout link the customer gets for it (Stripe's default expiry is 24 hours).
ACTION_WINDOW = timedelta(hours=24)
# Statuses that count towards the daily cap: money asked for and not refused.
COUNTING = (
    PaymentStatus.OPEN,
    PaymentStatus.PROCESSING,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.SUCCEEDED,
)


@dataclass(frozen=True)
class RechargeOutcome:
    status: str
    credited: bool = False
    payment_id: uuid.UUID | None = None
    amount_cents: int = 0
    message: str | None = None
    # Where the customer authenticates a card that asked for it.
    url: str | None = None


def pi_dedupe_key(payment_intent_id: str) -> str:
    return f"stripe:pi:{payment_intent_id}"


def checkout_dedupe_key(session_id: str) -> str:
    return f"stripe:checkout:{session_id}"


def _database(runtime_or_db: Runtime | Database) -> Database:
    if isinstance(runtime_or_db, Database):
        return runtime_or_db
    return runtime_or_db.database


def recharge_for(
    runtime_or_db: Runtime | Database,
    settings: Settings,
    workspace_id: uuid.UUID,
    needed_cents: int,
    actor: str,
) -> RechargeOutcome:
    """Charge the saved card for at least `needed_cents` (see the module docstring)."""
    database = _database(runtime_or_db)
    with database.transaction() as session:
        started = start_recharge(session, settings, workspace_id, needed_cents, actor)
    if isinstance(started, RechargeOutcome):
        return started
    return run_recharge(database, settings, started)


def start_recharge(
    session: Session,
    settings: Settings,
    workspace_id: uuid.UUID,
    needed_cents: int,
    actor: str,
    *,
    only_under_threshold: bool = False,
) -> uuid.UUID | RechargeOutcome:
    """Record an OPEN RECHARGE payment (the caller commits) or say why there is none."""
    if settings.payments_provider == "none":
        return RechargeOutcome("not_configured", message="No payment provider is configured.")
    purse = wallet_service.wallet_for(session, workspace_id)
    if not purse.auto_recharge_enabled:
        return RechargeOutcome("not_enabled", message="Auto-recharge is not enabled.")
    if not purse.default_payment_method_id or not purse.payment_customer_id:
        return RechargeOutcome("no_card", message="No card is saved for auto-recharge.")
    if only_under_threshold and purse.balance_cents >= purse.auto_recharge_threshold_cents:
        return RechargeOutcome("not_needed", message="The balance is above the threshold.")
    waiting = awaiting_action(session, purse.id)
    if waiting is not None:
        return RechargeOutcome(
            "requires_action",
            payment_id=waiting.id,
            amount_cents=waiting.amount_cents,
            url=waiting.url,
            message=(
                "An earlier recharge waits for the card to be authenticated"
                + (f" at {waiting.url}" if waiting.url else "")
                + "; no new recharge is made until it is paid or expires."
            ),
        )
    amount = max(needed_cents, purse.auto_recharge_amount_cents)
    spent = charged_today(session, purse.id)
    if spent + amount > settings.auto_recharge_daily_cap_cents:
        return RechargeOutcome(
            "cap_reached",
            amount_cents=amount,
            message=(
                f"Auto-recharge has charged {spent} of its daily cap of "
                f"{settings.auto_recharge_daily_cap_cents} cents today."
            ),
        )
    payment = Payment(
        id=uuid7(),
        workspace_id=workspace_id,
        wallet_id=purse.id,
        provider=settings.payments_provider,
        purpose=PaymentPurpose.RECHARGE,
        amount_cents=amount,
        currency=purse.currency,
        created_by=actor,
    )
    payment.idempotency_key = f"recharge:{payment.id}"
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:
        # uq_payments_recharge_in_flight: another recharge of this wallet is OPEN/PROCESSING.
        return RechargeOutcome("in_flight", message="A recharge is already in progress.")
    return payment.id


def awaiting_action(session: Session, wallet_id: uuid.UUID) -> Payment | None:
    """The wallet's recharge that waits for the customer to authenticate the card, if it is
    still young enough to be paid; an older one is EXPIRED here (the customer's link has
    expired too) and stops blocking.

    Why it blocks: charging the card again off-session would meet the same demand for
    authentication, and a customer who then pays the first link would have paid twice. The
    unique in-flight index covers OPEN and PROCESSING only, so this rule is a query."""
    now = clock.now()
    waiting = session.scalars(
        select(Payment)
        .where(
            Payment.wallet_id == wallet_id,
            Payment.purpose == PaymentPurpose.RECHARGE,
            Payment.status == PaymentStatus.REQUIRES_ACTION,
        )
        .order_by(Payment.id.desc())
    ).all()
    young = None
    for payment in waiting:
        if payment.updated_at.replace(tzinfo=now.tzinfo) > now - ACTION_WINDOW and young is None:
            young = payment
            continue
        if payment.updated_at.replace(tzinfo=now.tzinfo) <= now - ACTION_WINDOW:
            transitions.move(
                session,
                payment,
                PaymentStatus.EXPIRED,
                actor=ACTOR,
                failure_code="authentication_expired",
                failure_message="The card was not authenticated in time.",
            )
    return young


def charged_today(session: Session, wallet_id: uuid.UUID, now: datetime | None = None) -> int:
    """Cents of RECHARGE payments asked today (UTC) and not refused: what the cap counts."""
    start = (now or clock.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    total = session.scalar(
        select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
            Payment.wallet_id == wallet_id,
            Payment.purpose == PaymentPurpose.RECHARGE,
            Payment.status.in_(COUNTING),
            Payment.created_at >= start,
            Payment.created_at < start + timedelta(days=1),
        )
    )
    return int(total or 0)


def run_recharge(database: Database, settings: Settings, payment_id: uuid.UUID) -> RechargeOutcome:
    """Charge an OPEN recharge's card (no transaction open) and record what happened.

    Safe to run again (the sweep does, after a crash): the provider answers a repeated
    idempotency key with the first outcome, and the credit is deduped per PaymentIntent.
    """
    with database.transaction(write=False) as session:
        payment = session.get(Payment, payment_id)
        purse = session.get(Wallet, payment.wallet_id) if payment else None
        if payment is None or purse is None or payment.status != PaymentStatus.OPEN:
            return RechargeOutcome("not_open", payment_id=payment_id)
        customer, method = purse.payment_customer_id, purse.default_payment_method_id
        amount, currency, key = payment.amount_cents, payment.currency, payment.idempotency_key
        workspace_id = payment.workspace_id
    provider = provider_for(settings)
    try:
        if not customer or not method:
            raise PaymentProviderError("no card is saved")
        outcome = provider.charge_saved_card(
            customer_id=customer,
            payment_method_id=method,
            amount_cents=amount,
            currency=currency,
            idempotency_key=key or f"recharge:{payment_id}",
            metadata={"workspace_id": str(workspace_id), "payment_id": str(payment_id)},
        )
    except PaymentProviderError as exc:
        log.warning("recharge %s not charged: %s", payment_id, exc)
        with database.transaction() as session:
            payment = session.get(Payment, payment_id)
            if payment is not None and payment.status == PaymentStatus.OPEN:
                transitions.move(
                    session,
                    payment,
                    PaymentStatus.FAILED,
                    actor=ACTOR,
                    failure_code="provider_error",
                    failure_message=str(exc),
                )
        return RechargeOutcome("error", payment_id=payment_id, message=str(exc))
    with database.transaction() as session:
        recorded = record_charge(session, payment_id, outcome)
    if recorded.status == "requires_action" and recorded.url is None:
        recorded = with_checkout_link(database, settings, recorded)
    return recorded


def with_checkout_link(
    database: Database, settings: Settings, outcome: RechargeOutcome
) -> RechargeOutcome:
    """A recharge the card wants authenticated: a Checkout for the same amount where the
    customer pays on-session (its completion credits the wallet and the payment succeeds).
    Off-session declines carry no page of their own, so this is the link to come back on."""
    from mailfleet.billing.payments.checkout import open_checkout
    from mailfleet.billing.payments.errors import PaymentProviderFailed

    assert outcome.payment_id is not None
    try:
        opened = open_checkout(database, settings, outcome.payment_id)
    except PaymentProviderFailed as exc:
        log.warning("no checkout link for recharge %s: %s", outcome.payment_id, exc)
        return outcome
    return replace(outcome, url=opened.url)


def record_charge(session: Session, payment_id: uuid.UUID, charge: Charge) -> RechargeOutcome:
    """Apply an off-session charge's outcome to its payment and, when paid, the wallet."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        return RechargeOutcome("not_open", payment_id=payment_id)
    if charge.payment_intent_id and payment.external_id is None:
        payment.external_id = charge.payment_intent_id
    if charge.status == "succeeded" and charge.payment_intent_id:
        credited = credit_payment(session, payment, charge.payment_intent_id, actor=ACTOR)
        return RechargeOutcome(
            "succeeded", credited=credited, payment_id=payment.id, amount_cents=payment.amount_cents
        )
    if charge.status == "requires_action":
        _move_if_allowed(session, payment, PaymentStatus.REQUIRES_ACTION, charge)
        return RechargeOutcome(
            "requires_action",
            payment_id=payment.id,
            amount_cents=payment.amount_cents,
            message=charge.failure_message or "The card asks for authentication.",
            url=charge.url,
        )
    if charge.status == "processing":
        _move_if_allowed(session, payment, PaymentStatus.PROCESSING, charge)
        return RechargeOutcome(
            "processing", payment_id=payment.id, amount_cents=payment.amount_cents
        )
    _move_if_allowed(session, payment, PaymentStatus.FAILED, charge)
    return RechargeOutcome(
        "declined",
        payment_id=payment.id,
        amount_cents=payment.amount_cents,
        message=charge.failure_message or "The card was declined.",
    )


def _move_if_allowed(
    session: Session, payment: Payment, status: PaymentStatus, charge: Charge
) -> None:
    if payment.status != status and transitions.can_move(payment.status, status):
        transitions.move(
            session,
            payment,
            status,
            actor=ACTOR,
            failure_code=charge.failure_code,
            failure_message=charge.failure_message,
            url=charge.url,
        )


def credit_payment(session: Session, payment: Payment, external_id: str, *, actor: str) -> bool:
    """Credit the wallet with a paid payment, once per provider object; mark it SUCCEEDED.

    Returns whether the wallet holds the money (now or from an earlier call)."""
    if external_id.startswith("pi_"):
        dedupe = pi_dedupe_key(external_id)
    else:
        dedupe = checkout_dedupe_key(external_id)
    wallet_service.credit(
        session,
        payment.workspace_id,
        payment.amount_cents,
        kind=LedgerKind.TOPUP,
        reason=f"{payment.purpose.value.lower()} via {payment.provider}",
        actor=actor,
        reference=wallet_service.Reference("payment", str(payment.id)),
        dedupe_key=dedupe,
        currency=payment.currency,
    )
    if payment.status != PaymentStatus.SUCCEEDED and transitions.can_move(
        payment.status, PaymentStatus.SUCCEEDED
    ):
        transitions.move(session, payment, PaymentStatus.SUCCEEDED, actor=actor)
    return True
