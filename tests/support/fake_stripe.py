"""A local fake of exactly the Stripe API endpoints Mailfleet calls, for stripe-python.

A real HTTP server on 127.0.0.1 in a thread (tests.fakes.server.FakeServer), so the official
client runs unchanged against it (`stripe_api_base`): form-encoded bodies with nested keys
(`line_items[0][price_data][currency]`), Bearer key check, `Idempotency-Key` honoured (the same
key answers the first response again), objects in Stripe's shapes (`"object": "checkout.session"`,
`cs_test_...` ids, `url`, `payment_status`, lists as `{"object": "list", "data": [...]}`), and
errors as `{"error": {"type", "code", "decline_code", "message", "payment_intent"}}` with HTTP 402
for card errors.

Endpoints: POST /v1/customers, POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id},
POST /v1/payment_intents (off-session confirmation), GET /v1/payment_intents/{id},
GET /v1/payment_methods, POST /v1/payment_methods/{id}/detach, GET /v1/setup_intents/{id},
POST /v1/refunds (by payment_intent, with amount and metadata; refused over what is left).

A paid PaymentIntent has a Charge (`latest_charge`, ch_...) whose `amount_refunded` grows with
each refund, the object a `charge.refunded` event carries (`charge_of`). As in Stripe since
API version 2022-11-15, the charge's `refunds` list is not included, and the charge does not
copy its PaymentIntent's metadata. `refund_directly` refunds as the Dashboard would (no call
of ours); `refuse_refunds` makes POST /v1/refunds answer a 400 with that code.

Test cards are payment method ids, as in Stripe's test mode: `pm_card_visa` succeeds,
`pm_card_chargeDeclined` is declined (card_declined / generic_decline),
`pm_card_authenticationRequired` asks for authentication (authentication_required).

Helpers build the events Stripe would send (`completed`, `event`) and sign them the way Stripe
does (`sign`, with stripe-python's own WebhookSignature helper).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

from tests.fakes.server import FakeServer

Json = dict[str, Any]
API_KEY = "sk_test_fake_mailfleet_0123456789"
WEBHOOK_SECRET = "whsec_test_fake_mailfleet_secret"
CARDS: dict[str, Json] = {
    "pm_card_visa": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034},
    "pm_card_mastercard": {
        "brand": "mastercard",
        "last4": "4444",
        "exp_month": 6,
        "exp_year": 2033,
    },
    "pm_card_chargeDeclined": {"brand": "visa", "last4": "0002", "exp_month": 1, "exp_year": 2035},
    "pm_card_authenticationRequired": {
        "brand": "visa",
        "last4": "3184",
        "exp_month": 2,
        "exp_year": 2035,
    },
}


@dataclass
class Request:
    method: str
    path: str
    params: Json
    idempotency_key: str | None
    authorization: str | None


def _new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def decode_form(raw: str) -> Json:
    """Stripe's form encoding back to nested objects: `a[b][0][c]=x` -> {"a": {"b": [{"c": "x"}]}}
    (keys 0, 1, ... become lists)."""
    root: Json = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part, following in zip(parts, parts[1:] + [None], strict=True):
            if following is None:
                node[part] = value
                break
            child = node.get(part)
            if child is None:
                child = {}
                node[part] = child
            node = child
    return _listify(root)


def _listify(node: Any) -> Any:
    # Objects keyed 0, 1, 2... are arrays.
    if isinstance(node, dict):
        converted = {k: _listify(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


class ApiError(Exception):
    def __init__(self, status: int, error: Json) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


@dataclass
class FakeStripe(FakeServer):
    api_key: str = API_KEY
    webhook_secret: str = WEBHOOK_SECRET
    thread_name: str = "fake-stripe"
    customers: dict[str, Json] = field(default_factory=dict)
    sessions: dict[str, Json] = field(default_factory=dict)
    intents: dict[str, Json] = field(default_factory=dict)
    setup_intents: dict[str, Json] = field(default_factory=dict)
    charges: dict[str, Json] = field(default_factory=dict)
    refunds: dict[str, Json] = field(default_factory=dict)
    # Set by a test: POST /v1/refunds answers 400 invalid_request_error with this code.
    refuse_refunds: str | None = None
    # Saved cards: payment method id -> object (with its customer).
    methods: dict[str, Json] = field(default_factory=dict)
    log: list[Any] = field(default_factory=list)
    _idempotent: dict[tuple[str, str], tuple[int, Json]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Set by a test to hold every PaymentIntent creation until it is released; `intent_arrived`
    # is set when one is being held.
    hold_intents: threading.Event | None = None
    intent_arrived: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.serve(ThreadingHTTPServer(("127.0.0.1", 0), _Handler))

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- test helpers ---

    def attach(self, customer: str, method: str = "pm_card_visa") -> Json:
        """Save a test card on a customer, as a completed Checkout would."""
        card = CARDS[method]
        obj = {
            "id": method,
            "object": "payment_method",
            "type": "card",
            "customer": customer,
            "card": dict(card),
            "created": int(time.time()),
            "livemode": False,
        }
        self.methods[method] = obj
        return obj

    def complete(self, session_id: str, *, paid: bool = True, method: str = "pm_card_visa") -> Json:
        """Finish a Checkout Session as the customer would; returns the session object."""
        session = self.sessions[session_id]
        session["status"] = "complete"
        if session["mode"] == "setup":
            seti = _new_id("seti")
            self.setup_intents[seti] = {
                "id": seti,
                "object": "setup_intent",
                "status": "succeeded",
                "customer": session["customer"],
                "payment_method": method,
                "usage": "off_session",
            }
            self.attach(session["customer"], method)
            session["setup_intent"] = seti
        else:
            # The PaymentIntent a Checkout makes carries its payment_intent_data metadata.
            asked = session["_params"].get("payment_intent_data") or {}
            intent = self._paid_intent(
                int(session["amount_total"] or 0),
                session["currency"],
                session["customer"],
                method,
                asked.get("metadata") or {},
                succeeded=paid,
            )
            session["payment_intent"] = intent["id"]
            session["payment_status"] = "paid" if paid else "unpaid"
            self.attach(session["customer"], method)
        return {k: v for k, v in session.items() if k != "_params"}

    def _paid_intent(
        self,
        amount: int,
        currency: str,
        customer: str | None,
        method: str,
        metadata: Json,
        *,
        succeeded: bool = True,
    ) -> Json:
        intent: Json = {
            "id": _new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "currency": currency,
            "customer": customer,
            "payment_method": method,
            "metadata": dict(metadata),
            "status": "succeeded" if succeeded else "processing",
            "next_action": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
        }
        self.intents[intent["id"]] = intent
        if succeeded:
            self._charge(intent)
        return intent

    def _charge(self, intent: Json) -> Json:
        charge = {
            "id": _new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "paid": True,
            "captured": True,
            "refunded": False,
            "status": "succeeded",
            "metadata": {},
            "livemode": False,
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        return charge

    def charge_of(self, payment_intent: str) -> Json:
        """The Charge of a paid PaymentIntent, as a charge.refunded event carries it."""
        return dict(self.charges[self.intents[payment_intent]["latest_charge"]])

    def refund_directly(self, payment_intent: str, amount: int) -> Json:
        """A refund made at Stripe without us (the Dashboard); returns the charge after it."""
        self._refund({"payment_intent": payment_intent, "amount": str(amount)})
        return self.charge_of(payment_intent)

    def event(self, type: str, obj: Json) -> str:
        """An event as Stripe posts it (JSON text)."""
        return json.dumps(
            {
                "id": _new_id("evt"),
                "object": "event",
                "api_version": "2024-06-20",
                "created": int(time.time()),
                "livemode": False,
                "pending_webhooks": 1,
                "type": type,
                "data": {"object": obj},
            }
        )

    def sign(self, payload: str, *, secret: str | None = None, timestamp: int | None = None) -> str:
        """The Stripe-Signature header for `payload` (stripe-python's own helper)."""
        return stripe.WebhookSignature.generate_signature_header(  # type: ignore[attr-defined,no-any-return]
            payload, secret or self.webhook_secret, timestamp=timestamp
        )

    # --- the API ---

    def handle(self, request: Request) -> tuple[int, Json]:
        self.log.append(request)
        if request.authorization != f"Bearer {self.api_key}":
            return 401, {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Invalid API Key provided: sk_test_****",
                }
            }
        key = (request.method + " " + request.path, request.idempotency_key or "")
        if request.idempotency_key:
            with self._lock:
                if key in self._idempotent:
                    return self._idempotent[key]
        try:
            answer = 200, self._route(request)
        except ApiError as exc:
            answer = exc.status, {"error": exc.error}
        if request.idempotency_key and request.method == "POST":
            with self._lock:
                answer = self._idempotent.setdefault(key, answer)
        return answer

    def _route(self, request: Request) -> Json:
        method, path, params = request.method, request.path, request.params
        if (method, path) == ("POST", "/v1/customers"):
            return self._customer(params)
        if (method, path) == ("POST", "/v1/checkout/sessions"):
            return self._session(params)
        if (method, path) == ("POST", "/v1/payment_intents"):
            return self._intent(params)
        if (method, path) == ("GET", "/v1/payment_methods"):
            return self._list_methods(params)
        detach = re.fullmatch(r"/v1/payment_methods/([^/]+)/detach", path)
        if method == "POST" and detach:
            return self._detach(detach.group(1))
        if (method, path) == ("POST", "/v1/refunds"):
            return self._refund(params)
        found = self._retrieve(method, path)
        if found is not None:
            return found
        seti = re.fullmatch(r"/v1/setup_intents/([^/]+)", path)
        if method == "GET" and seti and seti.group(1) in self.setup_intents:
            return self.setup_intents[seti.group(1)]
        raise ApiError(
            404,
            {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({method}: {path}).",
            },
        )

    def _retrieve(self, method: str, path: str) -> Json | None:
        if method != "GET":
            return None
        session = re.fullmatch(r"/v1/checkout/sessions/([^/]+)", path)
        if session and session.group(1) in self.sessions:
            return {k: v for k, v in self.sessions[session.group(1)].items() if k != "_params"}
        intent = re.fullmatch(r"/v1/payment_intents/([^/]+)", path)
        if intent and intent.group(1) in self.intents:
            return dict(self.intents[intent.group(1)])
        return None

    def _refund(self, params: Json) -> Json:
        """POST /v1/refunds: a refund of a paid PaymentIntent's charge, whole or in part."""
        if self.refuse_refunds:
            raise ApiError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": self.refuse_refunds,
                    "message": f"The refund cannot be made ({self.refuse_refunds}).",
                },
            )
        self._require(params, "payment_intent")
        intent = self.intents.get(params["payment_intent"])
        if intent is None or not intent.get("latest_charge"):
            raise ApiError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "payment_intent",
                    "message": f"No such payment_intent: '{params['payment_intent']}'",
                },
            )
        charge = self.charges[intent["latest_charge"]]
        left = charge["amount"] - charge["amount_refunded"]
        amount = int(params.get("amount") or left)
        if amount > left:
            raise ApiError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "charge_already_refunded" if left == 0 else "amount_too_large",
                    "param": "amount",
                    "message": f"Refund amount ({amount}) is greater than unrefunded amount "
                    f"on charge ({left}).",
                },
            )
        refund = {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "currency": charge["currency"],
            "metadata": params.get("metadata", {}),
            "payment_intent": intent["id"],
            "reason": params.get("reason"),
            "status": "succeeded",
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return refund

    def _customer(self, params: Json) -> Json:
        obj = {
            "id": _new_id("cus"),
            "object": "customer",
            "email": params.get("email"),
            "name": params.get("name"),
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
            "livemode": False,
        }
        self.customers[obj["id"]] = obj
        return obj

    def _require(self, params: Json, *names: str) -> None:
        for name in names:
            if not params.get(name):
                raise ApiError(
                    400,
                    {
                        "type": "invalid_request_error",
                        "code": "parameter_missing",
                        "param": name,
                        "message": f"Missing required param: {name}.",
                    },
                )

    def _session(self, params: Json) -> Json:
        self._require(params, "mode", "success_url", "cancel_url")
        mode = params["mode"]
        if params.get("customer") and params["customer"] not in self.customers:
            raise ApiError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "customer",
                    "message": f"No such customer: '{params['customer']}'",
                },
            )
        amount = None
        currency = params.get("currency")
        if mode == "payment":
            self._require(params, "line_items")
            item = params["line_items"][0]
            amount = int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
            currency = item["price_data"]["currency"]
        session_id = _new_id("cs")
        obj = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
            "amount_total": amount,
            "currency": currency,
            "customer": params.get("customer"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "payment_intent": None,
            "setup_intent": None,
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "expires_at": int(time.time()) + 86400,
            "livemode": False,
        }
        # What was asked, for tests to check (not part of Stripe's answer).
        self.sessions[session_id] = {**obj, "_params": params}
        return obj

    def _intent(self, params: Json) -> Json:
        self._require(params, "amount", "currency")
        method = params.get("payment_method")
        intent: Json = {
            "id": _new_id("pi"),
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "customer": params.get("customer"),
            "payment_method": method,
            "metadata": params.get("metadata", {}),
            "off_session": params.get("off_session"),
            "confirm": params.get("confirm"),
            "next_action": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
        }
        self.intents[intent["id"]] = intent
        if self.hold_intents is not None:
            self.intent_arrived.set()
            self.hold_intents.wait(30)
        if method == "pm_card_chargeDeclined":
            intent["status"] = "requires_payment_method"
            raise self._card_error(
                intent, "card_declined", "generic_decline", "Your card was declined."
            )
        if method == "pm_card_authenticationRequired":
            intent["status"] = "requires_payment_method"
            raise self._card_error(
                intent,
                "authentication_required",
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
            )
        if method not in CARDS:
            raise ApiError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "payment_method",
                    "message": f"No such PaymentMethod: '{method}'",
                },
            )
        intent["status"] = "succeeded"
        self._charge(intent)
        return intent

    def _card_error(self, intent: Json, code: str, decline: str, message: str) -> ApiError:
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline,
            "message": message,
            "payment_method": {"id": intent["payment_method"], "object": "payment_method"},
        }
        intent["last_payment_error"] = dict(error)
        return ApiError(402, {**error, "payment_intent": dict(intent)})

    def _list_methods(self, params: Json) -> Json:
        customer = params.get("customer")
        data = [m for m in self.methods.values() if m["customer"] == customer]
        return {"object": "list", "data": data, "has_more": False, "url": "/v1/payment_methods"}

    def _detach(self, method_id: str) -> Json:
        method = self.methods.get(method_id)
        if method is None or method["customer"] is None:
            raise ApiError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "payment_method_unexpected_state",
                    "message": "The payment method you provided is not attached to a customer.",
                },
            )
        method["customer"] = None
        return dict(method)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        params = decode_form(raw if self.command == "POST" else url.query)
        fake: FakeStripe = self.server.fake  # type: ignore[attr-defined]
        status, body = fake.handle(
            Request(
                self.command,
                url.path,
                params,
                self.headers.get("Idempotency-Key"),
                self.headers.get("Authorization"),
            )
        )
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", _new_id("req"))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fake's own log is FakeStripe.log."""
