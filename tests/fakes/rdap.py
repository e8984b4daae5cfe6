"""A registry's RDAP server on 127.0.0.1: `GET /domain/{name}` answers 200 with a domain
object (RFC 9083) for a name in `registered`, 404 for any other, 500 for one in `broken`.
While `release` is cleared, lookups wait for it (so a test can see several held at once: the
lookups run in parallel, shown without timing anything). `bootstrap(path, tlds)` writes an
IANA-format bootstrap file mapping those TLDs here.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes.server import FakeServer


@dataclass
class Request:
    method: str
    path: str


@dataclass
class FakeRdap(FakeServer):
    registered: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    log: list[Request] = field(default_factory=list)
    # Set by default; a test clears it to hold every lookup until it sets it again.
    release: threading.Event = field(default_factory=threading.Event)
    waiting: int = 0
    thread_name = "fake-rdap"
    base_url: str = ""
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.release.set()

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
        self.serve(server)

    def bootstrap(self, path: Path, tlds: list[str]) -> Path:
        data = {
            "description": "test bootstrap",
            "publication": "2026-11-01T00:00:00Z",
            "services": [[tlds, [self.base_url]]],
            "version": "1.0",
        }
        path.write_text(json.dumps(data))
        return path

    def held(self, count: int) -> bool:
        """Whether `count` lookups are waiting at once (False if they never were, in 10 s)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: self.waiting >= count, timeout=10)

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        with self._arrived:
            self.waiting += 1
            self._arrived.notify_all()
        try:
            self.release.wait(30)
        finally:
            with self._arrived:
                self.waiting -= 1
        name = path.removeprefix("/domain/").lower()
        if not path.startswith("/domain/"):
            return 400, {"errorCode": 400, "title": "Bad request"}
        if name in self.broken:
            return 500, {"errorCode": 500, "title": "Internal error"}
        if name not in self.registered:
            return 404, {"errorCode": 404, "title": "Not found"}
        return 200, {
            "objectClassName": "domain",
            "ldhName": name.upper(),
            "status": ["active"],
            "rdapConformance": ["rdap_level_0"],
        }


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        fake: FakeRdap = self.server.fake
        fake.log.append(Request("GET", self.path))
        status, answer = fake.answer(self.path)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
