"""A fake of Porkbun's JSON API v3 on 127.0.0.1: `POST /domain/checkDomain/{domain}` with the
documented body (`apikey`, `secretapikey`) and answers (`{"status": "SUCCESS", "response":
{"avail", "type", "price", "regularPrice", "premium", "firstYearPromo", "minDuration",
"additional": {"renewal", "transfer"}}, "limits": {"TTL", "limit", "used",
"naturalLanguage"}}`, or `{"status": "ERROR", "message"}`).

Names are available unless listed in `taken`, `premium` or `unsupported` (the TLD is not
sold); `limit` checks per key are allowed per window (`ttl` seconds), then it refuses with
HTTP 503 and a message about the limit until `release()` starts a new window.

`POST /domain/create/{domain}` takes `cost` (integer cents, which must match the price) and
`agreeToTerms: "yes"`, honours `Idempotency-Key` (the same key replays the first answer) and
answers `{"status": "SUCCESS", "domain", "cost", "orderId", "balance"}`, debiting the account's
`balance` (cents): short of it, `{"status": "ERROR", "message": "Insufficient funds."}`.
`outages` makes the next N creates answer 503. `POST /domain/updateNs/{domain}` takes `ns`.

`keys` adds accounts (API key -> secret) beside API_KEY/SECRET; each registration records the
key that made it (`registered[name]["apikey"]`).

For benchmarks (both off by default): `latency` seconds added to every request, and
`max_concurrency` requests served at once (0: any number); one past it is refused with HTTP
429. `peak` is the most requests that were in flight at once (refused ones included) and
`refused` how many were turned away.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.server import FakeServer

API_KEY = "pk1_test_key"
SECRET = "sk1_test_secret"
PRICE = "11.08"
PREMIUM_PRICE = "2400.00"


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any]


@dataclass
class FakePorkbun(FakeServer):
    taken: set[str] = field(default_factory=set)
    premium: set[str] = field(default_factory=set)
    unsupported_tlds: set[str] = field(default_factory=set)
    limit: int = 1000
    ttl: int = 10
    log: list[Request] = field(default_factory=list)
    thread_name = "fake-porkbun"
    balance: int = 1_000_000
    outages: int = 0
    registered: dict[str, dict[str, Any]] = field(default_factory=dict)
    nameservers: dict[str, list[str]] = field(default_factory=dict)
    _replays: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    max_concurrency: int = 0
    peak: int = 0
    refused: int = 0
    _in_flight: int = 0
    _flight_lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/json/v3"
        self.serve(server)

    def arrive(self) -> bool:
        """One more request in flight; False when that is past `max_concurrency`."""
        with self._flight_lock:
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
            admitted = not self.max_concurrency or self._in_flight <= self.max_concurrency
            if not admitted:
                self.refused += 1
            return admitted

    def leave(self) -> None:
        with self._flight_lock:
            self._in_flight -= 1

    def release(self) -> None:
        """A new rate-limit window."""
        with self._lock:
            self._used = 0

    def answer(
        self, path: str, body: dict[str, Any], key: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        known = {API_KEY: SECRET, **self.keys}
        if known.get(str(body.get("apikey"))) != body.get("secretapikey"):
            return 400, {"status": "ERROR", "message": "Invalid API key. (002)"}
        base = "/api/json/v3/domain/"
        command, _, domain = path.removeprefix(base).partition("/")
        domain = domain.lower()
        if command == "checkDomain":
            return self._check(domain)
        if command == "create":
            with self._lock:
                if key is not None and key in self._replays:
                    return self._replays[key]
                answer = self._create(domain, body)
                if key is not None and answer[0] < 500:
                    self._replays[key] = answer
                return answer
        if command == "updateNs":
            if domain not in self.registered:
                return 400, {"status": "ERROR", "message": "Domain not found in your account."}
            self.nameservers[domain] = list(body.get("ns") or [])
            return 200, {"status": "SUCCESS"}
        return 404, {"status": "ERROR", "message": "Invalid command."}

    def _create(self, domain: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.outages > 0:
            self.outages -= 1
            return 503, {"status": "ERROR", "message": "Service temporarily unavailable."}
        if body.get("agreeToTerms") != "yes":
            return 400, {"status": "ERROR", "message": "You must agree to the terms."}
        tld = domain.rsplit(".", 1)[-1]
        if tld in self.unsupported_tlds or domain in self.taken or domain in self.registered:
            return 400, {"status": "ERROR", "message": "Domain is not available."}
        price = int(PREMIUM_PRICE.replace(".", "")) if domain in self.premium else 1108
        if body.get("cost") != price:
            return 400, {"status": "ERROR", "message": "The cost does not match the price."}
        if self.balance < price:
            return 400, {"status": "ERROR", "message": "Insufficient funds."}
        self.balance -= price
        order_id = 1000 + len(self.registered)
        self.registered[domain] = {"orderId": order_id, "cost": price, "apikey": body["apikey"]}
        return 200, {
            "status": "SUCCESS",
            "domain": domain,
            "cost": price,
            "orderId": order_id,
            "balance": self.balance,
        }

    def _check(self, domain: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self._used >= self.limit:
                message = f"{self._used} out of {self.limit} checks within {self.ttl} seconds used."
                return 503, {
                    "status": "ERROR",
                    "message": f"Domain check limit exceeded. {message}",
                    "limits": {"TTL": str(self.ttl), "limit": str(self.limit), "used": self._used},
                }
            self._used += 1
            used = self._used
        tld = domain.rsplit(".", 1)[-1]
        if tld in self.unsupported_tlds:
            return 400, {"status": "ERROR", "message": f"The TLD .{tld} is not supported."}
        premium = domain in self.premium
        price = PREMIUM_PRICE if premium else PRICE
        response = {
            "avail": "no" if domain in self.taken else "yes",
            "type": "registration",
            "price": price,
            "firstYearPromo": "no",
            "regularPrice": price,
            "premium": "yes" if premium else "no",
            "additional": {
                "renewal": {"type": "renewal", "price": price, "regularPrice": price},
                "transfer": {"type": "transfer", "price": price, "regularPrice": price},
            },
            "minDuration": 1,
        }
        limits = {
            "TTL": str(self.ttl),
            "limit": str(self.limit),
            "used": used,
            "naturalLanguage": f"{used} out of {self.limit} checks within {self.ttl} seconds used.",
        }
        return 200, {"status": "SUCCESS", "response": response, "limits": limits}


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        fake: FakePorkbun = self.server.fake
        fake.log.append(Request("POST", self.path, body))
        admitted = fake.arrive()
        try:
            if fake.latency:
                time.sleep(fake.latency)
            if admitted:
                key = self.headers.get("Idempotency-Key")
                status, answer = fake.answer(self.path, body, key)
            else:
                status, answer = 429, {"status": "ERROR", "message": "Too many requests at once."}
        finally:
            fake.leave()
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
