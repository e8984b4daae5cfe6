"""Request body size limits, enforced before the application reads a byte of the body.

A declared Content-Length over the route's limit is refused at once; a body without one (or
lying about it) is read only up to the limit. Either way the answer is 413 `request_too_large`
with `Connection: close`, since the rest of the body is never read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailfleet.exception_handlers import ErrorRenderer, info_of, render_problem
from mailfleet.exceptions import RequestTooLarge

BulkRoute = tuple[str, re.Pattern[str]]


def bulk_route(method: str, prefix: str, template: str) -> BulkRoute:
    """A route, named as a surface declares it (`POST`, `/v1`, `/mailboxes/{id}/picture`), as the
    pattern the middleware matches raw paths with: a path parameter is one segment."""
    parts = re.split(r"\{[^}/]+\}", template.rstrip("/"))
    path = "[^/]+".join(re.escape(part) for part in parts)
    return method.upper(), re.compile(rf"^{re.escape(prefix)}{path}/?$")


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        bulk_limit: int,
        # Routes taking `bulk_limit`; each surface names its own (Surface.bulk_routes).
        bulk_routes: Sequence[BulkRoute] = (),
        render_for: Callable[[str], ErrorRenderer] | None = None,
    ) -> None:
        self.app = app
        # The 413 comes in the format of the surface owning the path.
        self.render_for = render_for or (lambda path: render_problem)
        self.default_limit = default_limit
        self.bulk_limit = bulk_limit
        self.bulk_routes = tuple(bulk_routes)

    def limit_for(self, method: str, path: str) -> int:
        for bulk_method, pattern in self.bulk_routes:
            if method == bulk_method and pattern.match(path):
                return self.bulk_limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit, self.render_for(scope["path"]))
            return
        body = await _read_at_most(receive, limit)
        if body is None:
            await _refuse(scope, send, limit, self.render_for(scope["path"]))
            return
        await self.app(scope, _replay(body, receive), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


async def _read_at_most(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past `limit` (the rest is left unread)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app sees an empty body and then the disconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hands the buffered body over once, then the connection's own events (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(scope: Scope, send: Send, limit: int, render: ErrorRenderer) -> None:
    error = RequestTooLarge(
        f"The request body is larger than this route accepts ({limit} bytes).",
        field="body",
        headers={"Connection": "close"},
    )
    response = render(info_of(error), scope["path"])

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, nothing, send)
