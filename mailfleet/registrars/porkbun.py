"""Porkbun's JSON API v3 (https://api.porkbun.com/api/json/v3): every call is a POST whose JSON
body carries `apikey` and `secretapikey`; answers are `{"status": "SUCCESS", ...}` or
`{"status": "ERROR", "message": ...}`.

Availability is `POST /domain/checkDomain/{domain}`, one name per call, rate-limited per key
(its answer's `limits`: `limit` checks per `TTL` seconds). A refused check (HTTP 429 or 503, or
a message about the limit) is retried after the TTL, up to `registrar_max_wait_seconds` in all.

Registration is `POST /domain/create/{domain}` with the quoted `cost` in integer cents and
`agreeToTerms: "yes"`, sent with an `Idempotency-Key` header (Porkbun replays the first answer
for 24 hours: a retried job never buys twice), then `POST /domain/updateNs/{domain}` with the
pair. Porkbun registers for the TLD's minimum term (one year) with the account's default
contact and free WHOIS privacy; longer terms are renewals.

Renewal: the v3 API documents no renew call, so `renew` refuses (RenewalNotSupported) without
calling Porkbun; such domains renew by Porkbun's own auto-renew or by hand in its dashboard.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from mailfleet.config import Settings
from mailfleet.registrars.gate import Gate
from mailfleet.registrars.protocol import (
    Availability,
    Contact,
    RegistrarError,
    Registration,
    RenewalNotSupported,
    RenewalResult,
    TransientRegistrarError,
    Verdict,
)

# Said of a check refused for the key's rate limit rather than for the name.
_LIMIT_WORDS = ("limit", "too many", "exceeded")
# Said of an account problem: every name would fail the same way.
_ACCOUNT_WORDS = ("api key", "apikey", "authentication", "not opted in", "access")
DEFAULT_TTL = 10.0


def cents(price: object) -> int | None:
    """`"11.08"` -> 1108; None when there is no price."""
    if price in (None, ""):
        return None
    try:
        return int((Decimal(str(price)) * 100).to_integral_value())
    except InvalidOperation:
        return None


class Porkbun:
    name = "porkbun"
    max_years = 1

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.porkbun_api_key.get_secret_value() or not (
            settings.porkbun_secret_api_key.get_secret_value()
        ):
            raise ValueError(
                "MAILFLEET_PORKBUN_API_KEY and MAILFLEET_PORKBUN_SECRET_API_KEY are required"
            )
        self._auth = {
            "apikey": settings.porkbun_api_key.get_secret_value(),
            "secretapikey": settings.porkbun_secret_api_key.get_secret_value(),
        }
        self._client = httpx.Client(
            base_url=settings.porkbun_api_base.rstrip("/"),
            timeout=settings.registrar_timeout_seconds,
        )
        self._gate = Gate(settings)
        self._max_wait = settings.registrar_max_wait_seconds
        self._sleep = sleep

    def check(self, names: Sequence[str]) -> list[Availability]:
        return [self._check_one(name) for name in names]

    def _check_one(self, name: str) -> Availability:
        waited = 0.0
        while True:
            status, body = self._post(f"/domain/checkDomain/{name}")
            if body.get("status") == "SUCCESS":
                return self._availability(name, body.get("response") or {})
            message = str(body.get("message") or f"HTTP {status}")
            lowered = message.lower()
            if status in (429, 503) or any(word in lowered for word in _LIMIT_WORDS):
                pause = _ttl(body)
                if waited + pause > self._max_wait:
                    raise RegistrarError(f"Porkbun: {message}", retry_after=pause)
                self._sleep(pause)
                waited += pause
                continue
            if status in (401, 403) or any(word in lowered for word in _ACCOUNT_WORDS):
                raise RegistrarError(f"Porkbun: {message}")
            return Availability(name, Verdict.UNSUPPORTED, reason=message)

    def register(
        self,
        name: str,
        *,
        years: int,
        cost_cents: int,
        nameservers: Sequence[str],
        idempotency_key: str,
        contact: Contact | None = None,
        attempt: int = 1,
    ) -> Registration:
        if years != 1:
            raise RegistrarError("Porkbun registers for one year at a time.")
        status, body = self._post(
            f"/domain/create/{name}",
            headers={"Idempotency-Key": idempotency_key},
            cost=cost_cents,
            agreeToTerms="yes",
        )
        self._raise_unless_success(status, body)
        order_id = str(body.get("orderId") or body.get("domain") or name)
        status, body = self._post(f"/domain/updateNs/{name}", ns=list(nameservers))
        self._raise_unless_success(status, body)
        return Registration(name, order_id)

    def renew(self, name: str, years: int) -> RenewalResult:
        raise RenewalNotSupported(
            f"Porkbun's API cannot renew domains: renew {name} in Porkbun's dashboard "
            "(or turn on its auto-renew there)."
        )

    def expiry(self, name: str) -> datetime | None:
        # Nothing to ask without a renew call: the sweep never needs it for Porkbun.
        return None

    @staticmethod
    def _raise_unless_success(status: int, body: dict[str, Any]) -> None:
        if body.get("status") == "SUCCESS":
            return
        message = f"Porkbun: {body.get('message') or f'HTTP {status}'}"
        if status in (429, 502, 503, 504) or status == 0:
            raise TransientRegistrarError(message, retry_after=_ttl(body))
        raise RegistrarError(message)

    def _post(
        self, path: str, headers: dict[str, str] | None = None, **fields: Any
    ) -> tuple[int, dict[str, Any]]:
        try:
            with self._gate.place() as placed:
                if not placed:
                    raise TransientRegistrarError("Porkbun: too many calls in flight here.")
                response = self._client.post(path, json={**self._auth, **fields}, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientRegistrarError("Porkbun did not answer in time.") from exc
        except httpx.TransportError as exc:
            message = f"Porkbun could not be reached: {type(exc).__name__}."
            raise TransientRegistrarError(message) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return response.status_code, body

    @staticmethod
    def _availability(name: str, answer: dict[str, Any]) -> Availability:
        price = cents(answer.get("price"))
        renewal = cents(((answer.get("additional") or {}).get("renewal") or {}).get("price"))
        if answer.get("avail") != "yes":
            return Availability(name, Verdict.TAKEN, reason="Registered already.")
        if answer.get("premium") == "yes":
            return Availability(name, Verdict.PREMIUM, price, renewal, reason="Premium name.")
        return Availability(name, Verdict.AVAILABLE, price, renewal)


def _ttl(body: dict[str, Any]) -> float:
    limits = body.get("limits") or {}
    try:
        return max(0.0, float(limits.get("TTL", DEFAULT_TTL)))
    except (TypeError, ValueError):
        return DEFAULT_TTL
