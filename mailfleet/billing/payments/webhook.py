"""Provider webhooks: verified, then applied once per event id.

`receive` checks the signature (a refusal is logged without the secret or the payload and
answered 400), fetches what a setup completion saved (a provider call, made before the write
transaction opens), then records the event under its unique id and applies it in one
transaction. A replayed event finds its row and changes nothing; an event about no payment of
ours is recorded "unmatched"; a type we do not handle is recorded "ignored" and logged.

Money: a top-up is credited from its Checkout Session (completed with payment_status paid, or
async_payment_succeeded), deduped per session (`stripe:checkout:{cs}`), so the two events,
in either order, credit once. A recharge is credited from its PaymentIntent, deduped per intent
(`stripe:pi:{pi}`), whichever of the webhook and the synchronous charge sees it first.

A recharge's `payment_intent.processing` moves it to PROCESSING; `payment_intent.requires_action`
to REQUIRES_ACTION with the page the customer must visit (`next_action.redirect_to_url.url`),
or, when the intent names none (`use_stripe_sdk`), a Checkout for the same recharge opened after
the commit. `charge.refunded` is settled by `refunds.settle` (debited once per refund, however
it was made and however often it is delivered).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailfleet.billing.payments import refunds, transitions
from mailfleet.billing.payments.errors import InvalidWebhookSignature, PaymentProviderFailed
from mailfleet.billing.payments.protocol import (
    InvalidSignature,
    PaymentProviderError,
    ProviderEvent,
)
from mailfleet.billing.payments.registry import provider_for
from mailfleet.billing.payments.service import (
    RechargeOutcome,
    credit_payment,
    with_checkout_link,
)
from mailfleet.billing.payments.stripe import next_action_url
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.kit.ids import uuid7
from mailfleet.models import Payment, PaymentEvent, PaymentPurpose, PaymentStatus, Wallet

log = logging.getLogger(__name__)

ACTOR = "system:payments-webhook"
CHECKOUT_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)
INTENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.processing",
        "payment_intent.requires_action",
    }
)
REFUND_EVENTS = frozenset({"charge.refunded"})


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    # "applied", "ignored", "unmatched" or "duplicate" (seen before: nothing changed).
    outcome: str


def receive(
    database: Database, settings: Settings, payload: bytes, signature: str | None
) -> Received:
    provider = provider_for(settings)
    try:
        event = provider.verify_event(payload, signature)
    except InvalidSignature as exc:
        # The reason only: never the secret, the header or the body.
        log.warning("%s webhook refused: %s", provider.name, exc)
        raise InvalidWebhookSignature("The webhook signature is missing or not valid.") from exc
    saved_method = _saved_method(provider, event)
    refunded_payment = _refunded_payment(provider, event)
    with database.transaction() as session:
        outcome = apply(session, provider.name, event, saved_method, refunded_payment)
        waiting = _needs_link(session, provider.name, event) if outcome == "applied" else None
    if waiting is not None:
        # The card wants the customer and the intent names no page: a Checkout for the same
        # recharge is the link to come back on (made after the commit: a provider call).
        with_checkout_link(
            database, settings, RechargeOutcome("requires_action", payment_id=waiting)
        )
    if outcome == "ignored":
        log.info("%s webhook %s (%s) ignored", provider.name, event.id, event.type)
    elif outcome == "unmatched":
        log.warning("%s webhook %s (%s) matches no payment", provider.name, event.id, event.type)
    else:
        log.info("%s webhook %s (%s): %s", provider.name, event.id, event.type, outcome)
    return Received(event.id, event.type, outcome)


def _saved_method(provider: Any, event: ProviderEvent) -> str | None:
    """The card a completed setup Checkout saved, asked of the provider before any write."""
    obj = event.data
    if event.type != "checkout.session.completed" or obj.get("mode") != "setup":
        return None
    setup_intent = obj.get("setup_intent")
    if isinstance(setup_intent, dict):
        setup_intent = setup_intent.get("id")
    if not setup_intent:
        return None
    try:
        method = provider.payment_method_of_setup(str(setup_intent))
    except PaymentProviderError as exc:
        # A 502: the provider delivers the event again later.
        raise PaymentProviderFailed(f"The setup's card could not be read: {exc}") from exc
    return str(method) if method else None


def _refunded_payment(provider: Any, event: ProviderEvent) -> str | None:
    """The payment a refunded charge belongs to, from the charge's metadata or else its
    PaymentIntent's (ours name the payment; a Checkout copies its payment_intent_data
    metadata there), asked of the provider before any write."""
    if event.type not in REFUND_EVENTS:
        return None
    charge = event.data
    named = (charge.get("metadata") or {}).get("payment_id")
    intent = charge.get("payment_intent")
    if isinstance(intent, dict):
        named = named or (intent.get("metadata") or {}).get("payment_id")
        intent = intent.get("id")
    if named or not intent:
        return str(named) if named else None
    try:
        found = provider.intent_metadata(str(intent)).get("payment_id")
    except PaymentProviderError as exc:
        raise PaymentProviderFailed(
            f"The refunded charge's payment could not be read: {exc}"
        ) from exc
    return str(found) if found else None


def _needs_link(session: Session, provider: str, event: ProviderEvent) -> uuid.UUID | None:
    """A recharge this event moved to REQUIRES_ACTION with no page to send the customer to."""
    if event.type != "payment_intent.requires_action":
        return None
    payment = _intent_payment(session, provider, event.data)
    if payment is None or payment.status != PaymentStatus.REQUIRES_ACTION or payment.url:
        return None
    return payment.id


def apply(
    session: Session,
    provider: str,
    event: ProviderEvent,
    saved_method: str | None,
    refunded_payment: str | None = None,
) -> str:
    """Record and apply one verified event (the caller commits)."""
    record = PaymentEvent(
        id=uuid7(), provider=provider, event_id=event.id, type=event.type[:100], outcome="applied"
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        return "duplicate"
    if event.type in CHECKOUT_EVENTS:
        payment = _checkout_payment(session, provider, event.data)
        outcome = _apply_checkout(session, event, payment, saved_method) if payment else "unmatched"
    elif event.type in INTENT_EVENTS:
        payment = _intent_payment(session, provider, event.data)
        outcome = _apply_intent(session, event, payment) if payment else "unmatched"
    elif event.type in REFUND_EVENTS:
        payment = _refund_payment(session, provider, refunded_payment)
        outcome = (
            refunds.settle(session, payment, event.data, actor=ACTOR) if payment else "unmatched"
        )
    else:
        payment, outcome = None, "ignored"
    record.outcome = outcome
    record.payment_id = payment.id if payment is not None else None
    session.flush()
    return outcome


def _metadata_payment_id(obj: dict[str, Any]) -> uuid.UUID | None:
    raw = (obj.get("metadata") or {}).get("payment_id") or obj.get("client_reference_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def _checkout_payment(session: Session, provider: str, obj: dict[str, Any]) -> Payment | None:
    session_id = str(obj.get("id") or "")
    found = session.scalars(
        select(Payment).where(Payment.provider == provider, Payment.external_id == session_id)
    ).first()
    if found is not None:
        return found
    # A recharge that needed authentication is paid through a Checkout of its own, which
    # names the payment in its metadata (its external id stays the declined PaymentIntent).
    payment_id = _metadata_payment_id(obj)
    if payment_id is None:
        return None
    found = session.get(Payment, payment_id)
    if found is None or found.provider != provider:
        return None
    if found.purpose != PaymentPurpose.RECHARGE:
        # A top-up or setup whose session id was not recorded yet (the event beat it).
        if found.external_id is not None:
            return None
        found.external_id = session_id
    return found


def _intent_payment(session: Session, provider: str, obj: dict[str, Any]) -> Payment | None:
    intent_id = str(obj.get("id") or "")
    found = session.scalars(
        select(Payment).where(Payment.provider == provider, Payment.external_id == intent_id)
    ).first()
    if found is not None:
        return found if found.purpose == PaymentPurpose.RECHARGE else None
    # The webhook can beat the synchronous charge's own record of the intent: an OPEN recharge
    # named in the intent's metadata is that one.
    payment_id = _metadata_payment_id(obj)
    found = session.get(Payment, payment_id) if payment_id else None
    if (
        found is None
        or found.provider != provider
        or found.purpose != PaymentPurpose.RECHARGE
        or found.status != PaymentStatus.OPEN
    ):
        return None
    found.external_id = intent_id
    return found


def _refund_payment(session: Session, provider: str, payment_id: str | None) -> Payment | None:
    try:
        found = session.get(Payment, uuid.UUID(payment_id)) if payment_id else None
    except ValueError:
        return None
    if found is None or found.provider != provider or found.purpose == PaymentPurpose.SETUP:
        return None
    return found


def _apply_checkout(
    session: Session, event: ProviderEvent, payment: Payment, saved_method: str | None
) -> str:
    obj = event.data
    if payment.purpose == PaymentPurpose.SETUP:
        if event.type == "checkout.session.completed":
            return _card_saved(session, payment, saved_method)
        return _close(session, payment, event.type)
    paid = event.type == "checkout.session.async_payment_succeeded" or (
        event.type == "checkout.session.completed" and obj.get("payment_status") == "paid"
    )
    if paid:
        credit_payment(session, payment, str(obj["id"]), actor=ACTOR)
        return "applied"
    if event.type == "checkout.session.completed":
        # Paid by a method that confirms later (a bank debit): async_payment_* follows.
        if transitions.can_move(payment.status, PaymentStatus.PROCESSING):
            transitions.move(session, payment, PaymentStatus.PROCESSING, actor=ACTOR)
            return "applied"
        return "ignored"
    return _close(session, payment, event.type)


def _close(session: Session, payment: Payment, event_type: str) -> str:
    status = PaymentStatus.EXPIRED if event_type.endswith("expired") else PaymentStatus.FAILED
    if event_type.endswith("completed") or not transitions.can_move(payment.status, status):
        return "ignored"
    reason = "The checkout expired." if status == PaymentStatus.EXPIRED else "The payment failed."
    transitions.move(
        session,
        payment,
        status,
        actor=ACTOR,
        failure_code=event_type.rsplit(".", 1)[-1],
        failure_message=reason,
    )
    return "applied"


def _card_saved(session: Session, payment: Payment, method: str | None) -> str:
    """A setup Checkout completed: the card becomes the wallet's, and auto-recharge (asked
    for when the setup was made) turns on."""
    purse = session.get(Wallet, payment.wallet_id)
    if purse is None or not method:
        return "ignored"
    purse.default_payment_method_id = method
    purse.auto_recharge_enabled = True
    if transitions.can_move(payment.status, PaymentStatus.SUCCEEDED):
        transitions.move(session, payment, PaymentStatus.SUCCEEDED, actor=ACTOR)
    events.record(
        session,
        workspace_id=payment.workspace_id,
        type=EventType.WALLET_PAYMENT_METHOD_SAVED,
        subject_type="wallet",
        subject_id=purse.id,
        actor=ACTOR,
        payment_method_id=method,
        auto_recharge_enabled=True,
    )
    return "applied"


def _apply_intent(session: Session, event: ProviderEvent, payment: Payment) -> str:
    obj = event.data
    if event.type == "payment_intent.succeeded":
        credit_payment(session, payment, str(obj["id"]), actor=ACTOR)
        return "applied"
    if event.type == "payment_intent.processing":
        return _move_to(session, payment, PaymentStatus.PROCESSING)
    if event.type == "payment_intent.requires_action":
        url = next_action_url(obj.get("next_action"))
        return _move_to(
            session,
            payment,
            PaymentStatus.REQUIRES_ACTION,
            failure_code="authentication_required",
            failure_message="The card asks the customer to authenticate the payment.",
            url=url,
        )
    error = obj.get("last_payment_error") or {}
    if payment.status not in (PaymentStatus.OPEN, PaymentStatus.PROCESSING):
        # REQUIRES_ACTION (the customer may still come back) or final: nothing to change.
        return "ignored"
    transitions.move(
        session,
        payment,
        PaymentStatus.FAILED,
        actor=ACTOR,
        failure_code=error.get("decline_code") or error.get("code") or "payment_failed",
        failure_message=error.get("message") or "The payment failed.",
    )
    return "applied"


def _move_to(
    session: Session, payment: Payment, status: PaymentStatus, **details: str | None
) -> str:
    """A move an event asks for, when the payment is not there yet or past it (a late
    `processing` after `succeeded` changes nothing)."""
    if payment.status == status or not transitions.can_move(payment.status, status):
        return "ignored"
    transitions.move(session, payment, status, actor=ACTOR, **details)  # type: ignore[arg-type]
    return "applied"
