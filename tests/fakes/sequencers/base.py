"""What the sequencer fakes share: routing, a request log, queued failures (429 with or without
Retry-After, 5xx), an optional rate limit, and a gate that holds pushes until a test opens it."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.server import FakeServer

Json = Any
Handler = Callable[[re.Match[str], dict[str, str], Json], tuple[int, Json]]


class Answer(Exception):
    """An error answer in the app's shape."""

    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Json
    status: int = 0


@dataclass
class Failure:
    status: int
    retry_after: str | None


class SequencerFake(FakeServer):
    prefix = ""
    # Paths whose requests wait at the gate while it is closed (the account-creating calls).
    gated: tuple[str, ...] = ()

    def __init__(self, api_key: str = "good-key", *, rate_per_second: int | None = None) -> None:
        self.api_key = api_key
        self.log = []
        self.lock = threading.Lock()
        self._failures: deque[Failure] = deque()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.rate_per_second = rate_per_second
        self._window = (0, 0)  # (second, requests in it)
        self.gate = threading.Event()
        self.gate.set()
        self._pass_before_hold: int | None = None
        # Set each time a request reaches the closed gate.
        self.waiting = threading.Semaphore(0)
        self.routes()

    # --- for subclasses
    def routes(self) -> None:
        raise NotImplementedError

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern), handler))

    def authenticate(self, headers: dict[str, str], query: dict[str, str]) -> None:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Json:
        return {"message": message}

    # --- for tests
    def fail_next(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        with self.lock:
            self._failures.extend(Failure(status, retry_after) for _ in range(times))

    def hold(self, *, after: int = 0) -> None:
        """Hold gated requests at the gate, once `after` more of them have gone through."""
        with self.lock:
            self._pass_before_hold = after
        if after == 0:
            self.gate.clear()

    def release(self) -> None:
        with self.lock:
            self._pass_before_hold = None
        self.gate.set()

    def start(self) -> None:
        self.serve(ThreadingHTTPServer(("127.0.0.1", 0), _Handler))

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    # --- serving
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Json, dict[str, str]]:
        parts = urlsplit(raw_path)
        path = parts.path[len(self.prefix) :] if parts.path.startswith(self.prefix) else parts.path
        query = dict(parse_qsl(parts.query))
        entry = Logged(method, path, query, headers, None)
        with self.lock:
            self.log.append(entry)
        try:
            entry.body = json.loads(raw) if raw else None
        except ValueError:
            return self._done(entry, 400, self.error_body(400, "Body is not valid JSON"), {})
        try:
            self.authenticate(headers, query)
            self._limit()
            self._queued_failure()
            for route_method, pattern, handler in self._routes:
                match = pattern.fullmatch(path)
                if route_method == method and match:
                    if method != "GET" and any(re.fullmatch(g, path) for g in self.gated):
                        self._wait_at_gate()
                    status, body = handler(match, query, entry.body)
                    return self._done(entry, status, body, {})
            raise Answer(404, self.error_body(404, f"Route {method}:{path} not found"))
        except Answer as answer:
            return self._done(entry, answer.status, answer.body, answer.headers)

    def _done(
        self, entry: Logged, status: int, body: Json, headers: dict[str, str]
    ) -> tuple[int, Json, dict[str, str]]:
        entry.status = status
        return status, body, headers

    def _wait_at_gate(self) -> None:
        with self.lock:
            if self._pass_before_hold is not None:
                if self._pass_before_hold == 0:
                    self.gate.clear()
                    self._pass_before_hold = None
                else:
                    self._pass_before_hold -= 1
        if not self.gate.is_set():
            self.waiting.release()
            self.gate.wait()

    def _queued_failure(self) -> None:
        with self.lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is None:
            return
        headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
        message = "Too Many Requests" if failure.status == 429 else "Internal Server Error"
        raise Answer(failure.status, self.error_body(failure.status, message), headers)

    def _limit(self) -> None:
        if self.rate_per_second is None:
            return
        now = time.monotonic()
        second = int(now)
        with self.lock:
            current, used = self._window
            used = used + 1 if current == second else 1
            self._window = (second, used)
        if used > self.rate_per_second:
            wait = f"{max(0.01, second + 1 - now):.2f}"
            raise Answer(429, self.error_body(429, "Rate limit exceeded"), {"Retry-After": wait})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        fake: SequencerFake = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra = fake.handle(self.command, self.path, headers, raw)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve


def require(
    body: Json, fields: dict[str, type | tuple[type, ...]], missing: Callable[[str], Answer]
) -> None:
    """Every field present with its JSON type (bool is not an int here)."""
    if not isinstance(body, dict):
        raise missing("body")
    for name, kind in fields.items():
        value = body.get(name)
        if value is None:
            raise missing(name)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise missing(name)
        if not isinstance(value, kinds):
            raise missing(name)
