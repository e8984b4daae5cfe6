"""A fake of Porkbun's JSON API v3 on 127.0.0.1: `POST /domain/checkDomain/{domain}` with the
documented body (`apikey`, `secretapikey`) and answers (`{"status": "SUCCESS", "response":
{"avail", "type", "price", "regularPrice", "premium", "firstYearPromo", "minDuration",
"additional": {"renewal", "transfer"}}, "limits": {"TTL", "limit", "used",
"naturalLanguage"}}`, or `{"status": "ERROR", "message"}`).

Names are available unless listed in `taken`, `premium` or `unsupported` (the TLD is not
sold); `limit` checks per key are allowed per window (`ttl` seconds), then it refuses with
HTTP 503 and a message about the limit until `release()` starts a new window.
"""

from __future__ import annotations

import json
import threading
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
    _used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/json/v3"
        self.serve(server)

    def release(self) -> None:
        """A new rate-limit window."""
        with self._lock:
            self._used = 0

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("apikey") != API_KEY or body.get("secretapikey") != SECRET:
            return 400, {"status": "ERROR", "message": "Invalid API key. (002)"}
        prefix = "/api/json/v3/domain/checkDomain/"
        if not path.startswith(prefix):
            return 404, {"status": "ERROR", "message": "Invalid command."}
        return self._check(path.removeprefix(prefix).lower())

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
        status, answer = fake.answer(self.path, body)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
