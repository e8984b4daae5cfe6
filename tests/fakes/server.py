"""What every fake vendor API shares: a real HTTP server on 127.0.0.1:0 in a daemon thread."""

from __future__ import annotations

import re
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Self


class FakeServer:
    """Lifecycle of a fake: `start()` builds its server and calls `serve`; `stop()` ends it.

    Request handlers reach the fake as `self.server.fake`.
    """

    thread_name = "fake"
    _server: ThreadingHTTPServer | None = None
    # Every request served, as the fake's own record type (with .method and .path at least).
    log: list[Any]

    def start(self) -> None:
        raise NotImplementedError

    def serve(self, server: ThreadingHTTPServer) -> None:
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        # A short poll interval keeps stop() (which waits for one poll) quick in every test.
        threading.Thread(
            target=server.serve_forever, args=(0.02,), name=self.thread_name, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def calls(self, method: str, path: str) -> list[Any]:
        """Logged requests whose method matches and whose path fully matches the regex `path`."""
        return [r for r in self.log if r.method == method and re.fullmatch(path, r.path)]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
