"""Top-ups and card setup through a provider's Checkout, saved payment methods, and the
wallet's auto-recharge settings.

A Checkout is asked for in three steps so that no provider call holds a write transaction: the
caller records the OPEN Payment and commits; `open_checkout` then makes the provider customer
(once per wallet) and the session, with the Payment's id as the idempotency key; and records
the session's id and link. The wallet is credited later, from the signed webhook only.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.billing.errors import InvalidAmount
from mailfleet.billing.payments import transitions
from mailfleet.billing.payments.errors import (
    PaymentMethodNotFound,
    PaymentProviderFailed,
    PaymentsNotConfigured,
)
from mailfleet.billing.payments.protocol import (
    CheckoutRequest,
    PaymentMethod,
    PaymentProvider,
    PaymentProviderError,
)
from mailfleet.billing.payments.registry import provider_for
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import (
    Membership,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Role,
    User,
    Wallet,
    Workspace,
)

log = logging.getLogger(__name__)

NOT_CONFIGURED = (
    "This deployment takes no card payments: ask the operator to credit your wallet "
    "(for example after a bank transfer)."
)


@dataclass(frozen=True)
class Opened:
    payment_id: uuid.UUID
    status: PaymentStatus
    url: str | None
    amount_cents: int
    currency: str


def require_provider(settings: Settings) -> None:
    if settings.payments_provider == "none":
        raise PaymentsNotConfigured(NOT_CONFIGURED)


def check_topup_amount(settings: Settings, amount_cents: object) -> int:
    amount = wallet_service.check_amount(amount_cents)
    low, high = settings.topup_min_amount_cents, settings.topup_max_amount_cents
    if amount < low:
        raise InvalidAmount(f"A top-up is at least {low} cents.", field="amount_cents")
    if amount > high:
        raise InvalidAmount(f"A top-up is at most {high} cents.", field="amount_cents")
    return amount


def record_payment(
    session: Session,
    settings: Settings,
    purse: Wallet,
    *,
    purpose: PaymentPurpose,
    amount_cents: int,
    actor: str,
) -> Payment:
    """An OPEN payment of the wallet (the caller commits before asking the provider)."""
    payment = Payment(
        id=uuid7(),
        workspace_id=purse.workspace_id,
        wallet_id=purse.id,
        provider=settings.payments_provider,
        purpose=purpose,
        amount_cents=amount_cents,
        currency=purse.currency,
        created_by=actor,
    )
    payment.idempotency_key = str(payment.id)
    session.add(payment)
    session.flush()
    return payment


def start_topup(
    session: Session,
    database: Database,
    settings: Settings,
    purse: Wallet,
    amount_cents: int,
    *,
    actor: str,
) -> Opened:
    """A top-up of `amount_cents` (already checked): its OPEN payment committed, then its
    Checkout opened. Committed before the provider is called: no write lock is held across
    the call, and a crash leaves an OPEN payment, never a charge we have no row for."""
    payment = record_payment(
        session,
        settings,
        purse,
        purpose=PaymentPurpose.TOPUP,
        amount_cents=amount_cents,
        actor=actor,
    )
    payment_id = payment.id
    session.commit()
    return open_checkout(database, settings, payment_id)


def open_checkout(database: Database, settings: Settings, payment_id: uuid.UUID) -> Opened:
    """Make the provider's Checkout for a committed OPEN payment and record its link.

    A provider refusal fails the payment and raises PaymentProviderFailed (502)."""
    with database.transaction(write=False) as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None, "open_checkout is given a committed payment"
        purse = session.get(Wallet, payment.wallet_id)
        assert purse is not None
        customer = purse.payment_customer_id
        wallet_id, workspace_id = purse.id, payment.workspace_id
        purpose, amount, currency = payment.purpose, payment.amount_cents, payment.currency
        contact = customer_contact(session, workspace_id) if customer is None else None
    provider = provider_for(settings)
    try:
        if customer is None:
            assert contact is not None
            customer = _ensure_customer(database, provider, wallet_id, workspace_id, contact)
        metadata = {"workspace_id": str(workspace_id), "payment_id": str(payment_id)}
        made = provider.create_checkout(
            CheckoutRequest(
                mode="setup" if purpose == PaymentPurpose.SETUP else "payment",
                customer_id=customer,
                currency=currency,
                success_url=settings.checkout_success_url,
                cancel_url=settings.checkout_cancel_url,
                idempotency_key=f"checkout:{payment_id}",
                metadata=metadata,
                client_reference_id=str(payment_id),
                amount_cents=amount,
                description="Wallet top-up" if purpose != PaymentPurpose.RECHARGE else "Recharge",
            )
        )
    except PaymentProviderError as exc:
        log.warning("checkout for payment %s not created: %s", payment_id, exc)
        with database.transaction() as session:
            failed = session.get(Payment, payment_id)
            if failed is not None and transitions.can_move(failed.status, PaymentStatus.FAILED):
                transitions.move(
                    session,
                    failed,
                    PaymentStatus.FAILED,
                    actor="system:payments",
                    failure_code="provider_error",
                    failure_message=str(exc),
                )
        raise PaymentProviderFailed(f"The payment provider refused the checkout: {exc}") from exc
    with database.transaction() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        if purpose != PaymentPurpose.RECHARGE:
            payment.external_id = made.id
        payment.url = made.url
        status = payment.status
    log.info("checkout %s opened for payment %s", made.id, payment_id)
    return Opened(payment_id, status, made.url, amount, currency)


@dataclass(frozen=True)
class Contact:
    email: str | None
    name: str | None


def customer_contact(session: Session, workspace_id: uuid.UUID) -> Contact:
    """Who the provider's customer is (its receipts and the card's 3-D Secure page show it):
    the workspace's billing email and company or contact name, else its first owner's email
    and name, and the workspace's name."""
    workspace = session.get(Workspace, workspace_id)
    details = (workspace.billing_details if workspace else None) or {}
    owner = session.execute(
        select(User.email, User.name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace_id, Membership.role == Role.OWNER)
        .order_by(Membership.created_at, Membership.id)
        .limit(1)
    ).first()
    email = details.get("contact_email") or (owner.email if owner else None)
    name = (
        details.get("company_name")
        or details.get("contact_name")
        or (workspace.name if workspace else None)
        or (owner.name if owner else None)
    )
    return Contact(email or None, name or None)


def _ensure_customer(
    database: Database,
    provider: PaymentProvider,
    wallet_id: uuid.UUID,
    workspace_id: uuid.UUID,
    contact: Contact,
) -> str:
    """The wallet's provider customer, made once: the idempotency key is the wallet's, and the
    first id stored wins a race."""
    created = provider.create_customer(
        workspace_id=str(workspace_id),
        email=contact.email,
        name=contact.name,
        idempotency_key=f"customer:{wallet_id}",
    )
    with database.transaction() as session:
        session.execute(
            update(Wallet)
            .where(Wallet.id == wallet_id, Wallet.payment_customer_id.is_(None))
            .values(payment_customer_id=created, updated_at=clock.now())
        )
        stored = session.scalar(select(Wallet.payment_customer_id).where(Wallet.id == wallet_id))
    return str(stored or created)


# --- Payment methods ---


def list_methods(settings: Settings, purse: Wallet | None) -> list[tuple[PaymentMethod, bool]]:
    """The saved cards at the provider, each with whether it is the one auto-recharge uses."""
    if purse is None or purse.payment_customer_id is None or settings.payments_provider == "none":
        return []
    try:
        methods = provider_for(settings).list_payment_methods(purse.payment_customer_id)
    except PaymentProviderError as exc:
        raise PaymentProviderFailed(f"The payment provider did not list the cards: {exc}") from exc
    return [(method, method.id == purse.default_payment_method_id) for method in methods]


def remove_method(
    database: Database, settings: Settings, workspace_id: uuid.UUID, method_id: str, actor: str
) -> None:
    """Detach a saved card of the workspace's customer; the default one stops being the
    default (auto-recharge then waits for a new card)."""
    with database.transaction(write=False) as session:
        purse = session.scalars(select(Wallet).where(Wallet.workspace_id == workspace_id)).first()
        listed = list_methods(settings, purse)
    if purse is None or method_id not in {method.id for method, _ in listed}:
        raise PaymentMethodNotFound("No such saved card.", field="pm_id")
    try:
        provider_for(settings).detach_payment_method(method_id)
    except PaymentProviderError as exc:
        raise PaymentProviderFailed(f"The payment provider did not remove the card: {exc}") from exc
    with database.transaction() as session:
        session.execute(
            update(Wallet)
            .where(Wallet.id == purse.id, Wallet.default_payment_method_id == method_id)
            .values(default_payment_method_id=None, updated_at=clock.now())
        )
        events.record(
            session,
            workspace_id=workspace_id,
            type=EventType.WALLET_PAYMENT_METHOD_REMOVED,
            subject_type="wallet",
            subject_id=purse.id,
            actor=actor,
            payment_method_id=method_id,
        )


# --- Auto-recharge settings ---


@dataclass(frozen=True)
class AutoRechargeChange:
    enabled: bool
    threshold_cents: int
    amount_cents: int
    # Set when enabling needs a card first: a SETUP payment to open a Checkout for.
    setup_payment_id: uuid.UUID | None = None


def set_auto_recharge(
    session: Session,
    settings: Settings,
    workspace_id: uuid.UUID,
    *,
    enabled: bool,
    threshold_cents: int | None,
    amount_cents: int | None,
    actor: str,
) -> AutoRechargeChange:
    """Change the wallet's auto-recharge; enabling with no saved card records a SETUP payment
    (the caller commits and opens its Checkout) and leaves it off until the card is saved."""
    threshold = (
        settings.auto_recharge_threshold_cents if threshold_cents is None else threshold_cents
    )
    amount = settings.auto_recharge_min_amount_cents if amount_cents is None else amount_cents
    if isinstance(threshold, bool) or threshold < 0:
        raise InvalidAmount("The threshold is zero or more cents.", field="threshold_cents")
    wallet_service.check_amount(amount)
    if amount < settings.auto_recharge_min_amount_cents:
        raise InvalidAmount(
            f"A recharge is at least {settings.auto_recharge_min_amount_cents} cents.",
            field="amount_cents",
        )
    if enabled:
        require_provider(settings)
    purse = wallet_service.wallet_for(session, workspace_id)
    purse.auto_recharge_threshold_cents = threshold
    purse.auto_recharge_amount_cents = amount
    needs_card = enabled and not purse.default_payment_method_id
    purse.auto_recharge_enabled = enabled and not needs_card
    setup_id = None
    if needs_card:
        setup = record_payment(
            session, settings, purse, purpose=PaymentPurpose.SETUP, amount_cents=0, actor=actor
        )
        setup_id = setup.id
    session.flush()
    events.record(
        session,
        workspace_id=workspace_id,
        type=EventType.WALLET_AUTO_RECHARGE_CHANGED,
        subject_type="wallet",
        subject_id=purse.id,
        actor=actor,
        enabled=purse.auto_recharge_enabled,
        threshold_cents=threshold,
        amount_cents=amount,
        awaiting_card=needs_card,
    )
    return AutoRechargeChange(purse.auto_recharge_enabled, threshold, amount, setup_id)
