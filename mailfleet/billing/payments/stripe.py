"""Stripe, through stripe-python: Checkout Sessions (top-ups, saving a card), customers, saved
payment methods, off-session PaymentIntents and webhook signatures.

Every call that creates something carries an idempotency key (our Payment's id), so a retried
call returns Stripe's first answer instead of charging twice. Card outcomes of an off-session
charge (declined, authentication required) are answers, not errors: they come back as a
`Charge`; anything else Stripe refuses raises PaymentProviderError with Stripe's message (never
the key).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe as stripe_lib

from mailfleet.billing.payments.protocol import (
    Charge,
    CheckoutRequest,
    CheckoutSession,
    InvalidSignature,
    PaymentMethod,
    PaymentProviderError,
    ProviderEvent,
    ProviderUnreachable,
    Refund,
    RefundRequest,
)
from mailfleet.config import Settings

log = logging.getLogger(__name__)

# A payment intent's status -> our charge outcome.
OUTCOMES = {
    "succeeded": "succeeded",
    "processing": "processing",
    "requires_action": "requires_action",
    "requires_confirmation": "requires_action",
}


class StripePayments:
    name = "stripe"

    def __init__(self, settings: Settings) -> None:
        options: dict[str, Any] = {"max_network_retries": 2}
        if settings.stripe_api_base:
            options["base_addresses"] = {"api": settings.stripe_api_base}
        self.client = stripe_lib.StripeClient(settings.stripe_api_key.get_secret_value(), **options)
        self._webhook_secret = settings.stripe_webhook_secret

    def create_customer(
        self,
        *,
        workspace_id: str,
        email: str | None,
        idempotency_key: str,
        name: str | None = None,
    ) -> str:
        params: dict[str, Any] = {"metadata": {"workspace_id": workspace_id}}
        if email:
            params["email"] = email
        if name:
            params["name"] = name
        customer = self._call(
            lambda: self.client.v1.customers.create(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
        return str(customer.id)

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        params: dict[str, Any] = {
            "mode": request.mode,
            "customer": request.customer_id,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "metadata": request.metadata,
        }
        if request.client_reference_id:
            params["client_reference_id"] = request.client_reference_id
        if request.mode == "payment":
            params["line_items"] = [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount_cents,
                        "product_data": {"name": request.description},
                    },
                }
            ]
            # The card is kept for auto-recharge.
            params["payment_intent_data"] = {
                "setup_future_usage": "off_session",
                "metadata": request.metadata,
            }
        else:
            params["currency"] = request.currency.lower()
            params["payment_method_types"] = ["card"]
            params["setup_intent_data"] = {"metadata": request.metadata}
        session = self._call(
            lambda: self.client.v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        )
        return CheckoutSession(
            id=str(session.id),
            url=session.url,
            status=session.status,
            payment_status=session.payment_status,
        )

    def charge_saved_card(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_cents: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> Charge:
        params: dict[str, Any] = {
            "amount": amount_cents,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "off_session": True,
            "confirm": True,
            "metadata": metadata,
        }
        try:
            intent = self.client.v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe_lib.CardError as exc:
            return _card_outcome(exc, amount_cents)
        except stripe_lib.StripeError as exc:
            raise PaymentProviderError(_message(exc)) from exc
        plain = _plain(intent)
        status = OUTCOMES.get(str(plain.get("status")), "declined")
        return Charge(
            status=status,
            payment_intent_id=str(plain["id"]),
            amount_cents=int(plain.get("amount") or amount_cents),
            url=next_action_url(plain.get("next_action")),
            failure_message=None if status != "declined" else f"status {plain.get('status')}",
        )

    def payment_method_of_setup(self, setup_intent_id: str) -> str | None:
        intent = self._call(lambda: self.client.v1.setup_intents.retrieve(setup_intent_id))
        method = intent.payment_method
        if method is None:
            return None
        return method if isinstance(method, str) else str(method.id)

    def list_payment_methods(self, customer_id: str) -> list[PaymentMethod]:
        listed = self._call(
            lambda: self.client.v1.payment_methods.list({"customer": customer_id, "type": "card"})
        )
        methods = []
        for method in (_plain(item) for item in listed.data):
            card = method.get("card") or {}
            methods.append(
                PaymentMethod(
                    id=str(method["id"]),
                    brand=card.get("brand"),
                    last4=card.get("last4"),
                    exp_month=card.get("exp_month"),
                    exp_year=card.get("exp_year"),
                )
            )
        return methods

    def detach_payment_method(self, payment_method_id: str) -> None:
        self._call(lambda: self.client.v1.payment_methods.detach(payment_method_id))

    def refund(self, request: RefundRequest) -> Refund:
        """POST /v1/refunds against the PaymentIntent that paid (a Checkout Session's own
        PaymentIntent is read from the session first)."""
        intent = request.paid_by
        if intent.startswith("cs_"):
            session = self._call(lambda: self.client.v1.checkout.sessions.retrieve(request.paid_by))
            paid = session.payment_intent
            if not paid:
                raise PaymentProviderError("Stripe: the checkout session has no payment")
            intent = paid if isinstance(paid, str) else str(paid.id)
        params: dict[str, Any] = {
            "payment_intent": intent,
            "amount": request.amount_cents,
            "metadata": request.metadata,
        }
        made = self._call(
            lambda: self.client.v1.refunds.create(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        )
        plain = _plain(made)
        return Refund(
            id=str(plain["id"]),
            status=str(plain.get("status") or "pending"),
            amount_cents=int(plain.get("amount") or request.amount_cents),
            payment_intent_id=_id_of(plain.get("payment_intent")),
            charge_id=_id_of(plain.get("charge")),
        )

    def intent_metadata(self, payment_intent_id: str) -> dict[str, str]:
        intent = self._call(lambda: self.client.v1.payment_intents.retrieve(payment_intent_id))
        metadata = _plain(intent).get("metadata") or {}
        return {str(k): str(v) for k, v in metadata.items()}

    def verify_event(self, payload: bytes, signature: str | None) -> ProviderEvent:
        secret = self._webhook_secret.get_secret_value()
        if not secret:
            raise InvalidSignature("no webhook secret is configured")
        if not signature:
            raise InvalidSignature("no Stripe-Signature header")
        try:
            stripe_lib.WebhookSignature.verify_header(
                payload.decode("utf-8"), signature, secret, tolerance=300
            )
        except (stripe_lib.SignatureVerificationError, UnicodeDecodeError) as exc:
            raise InvalidSignature(f"signature refused: {type(exc).__name__}") from exc
        # Verified: the same check construct_event makes, then the plain JSON (a dict is
        # easier to read safely than a StripeObject).
        try:
            body = json.loads(payload)
            return ProviderEvent(
                id=str(body["id"]), type=str(body["type"]), data=dict(body["data"]["object"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidSignature("a signed payload that is not a Stripe event") from exc

    @staticmethod
    def _call(call: Any) -> Any:
        try:
            return call()
        except stripe_lib.APIConnectionError as exc:
            # No answer: the call may have been applied (its idempotency key makes a retry
            # safe), so nothing may be undone on our side.
            raise ProviderUnreachable(_message(exc)) from exc
        except stripe_lib.StripeError as exc:
            raise PaymentProviderError(_message(exc)) from exc


def _card_outcome(exc: stripe_lib.CardError, amount_cents: int) -> Charge:
    body: Any = exc.json_body or {}
    error = body.get("error") or {}
    intent = error.get("payment_intent") or {}
    code = error.get("code") or exc.code
    needs_customer = code == "authentication_required" or intent.get("status") == "requires_action"
    return Charge(
        status="requires_action" if needs_customer else "declined",
        payment_intent_id=intent.get("id"),
        amount_cents=amount_cents,
        failure_code=error.get("decline_code") or code,
        failure_message=error.get("message") or exc.user_message or "The card was declined.",
        url=next_action_url(intent.get("next_action")),
    )


def _id_of(value: Any) -> str | None:
    """An id field that may come expanded (an object) or as the plain id."""
    if not value:
        return None
    return str(value if isinstance(value, str) else value.get("id"))


def _plain(obj: Any) -> dict[str, Any]:
    """A StripeObject as plain dicts (it is not a dict itself in stripe-python 8+)."""
    return dict(obj.to_dict()) if hasattr(obj, "to_dict") else dict(obj)


def next_action_url(next_action: Any) -> str | None:
    if not next_action:
        return None
    redirect = next_action.get("redirect_to_url") or {}
    url = redirect.get("url")
    return str(url) if url else None


def _message(exc: stripe_lib.StripeError) -> str:
    return f"Stripe: {exc.user_message or type(exc).__name__}"
