"""Errors as surface-neutral `ErrorInfo`, rendered by each surface's `ErrorRenderer`.

The native surface renders RFC 9457 problem details (`render_problem`); a compat surface passes
its own renderer to `register` and `UnexpectedErrorMiddleware`. Unexpected errors are logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailfleet.exceptions import FieldError, MailfleetError

log = logging.getLogger("mailfleet.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"

_STATUS_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Validation error"),
    429: ("rate_limited", "Too many requests"),
}


@dataclasses.dataclass(frozen=True)
class ErrorInfo:
    """An error as every surface sees it, before rendering."""

    status: int
    code: str
    title: str
    detail: str
    field: str | None = None
    errors: Sequence[FieldError] = ()
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


class ErrorRenderer(Protocol):
    """Turns an error into the surface's response; `instance` is the request's path."""

    def __call__(self, error: ErrorInfo, instance: str) -> Response: ...


def render_problem(error: ErrorInfo, instance: str) -> Response:
    """The native surface's format: RFC 9457 problem details."""
    return problem_response(
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        instance=instance,
        field=error.field,
        errors=list(error.errors),
        headers=dict(error.headers),
    )


def info_of(exc: MailfleetError) -> ErrorInfo:
    return ErrorInfo(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        field=exc.field,
        errors=tuple(exc.errors),
        headers=dict(exc.headers),
    )


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    field: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:mailfleet:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
        "field": field,
        "errors": [e.__dict__ for e in errors or []],
    }
    return Response(
        json.dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "mailboxes", 2, "username")` -> `mailboxes[2].username`."""
    parts: list[str] = []
    for item in loc:
        if item in ("body", "query", "path", "header") and not parts:
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "body"


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return str(loc[0]) if loc else "body"


def _mailfleet_error(exc: Exception) -> ErrorInfo:
    assert isinstance(exc, MailfleetError)
    return info_of(exc)


def _validation_error(exc: Exception) -> ErrorInfo:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(err.get("type") == "json_invalid" for err in raw):
        return ErrorInfo(
            status=400,
            code="malformed_json",
            title="Bad request",
            detail="The request body is not valid JSON.",
            field="body",
        )
    errors = [
        FieldError(
            field=field_path(err.get("loc", ())),
            code=str(err.get("type", "invalid")),
            # Never echo the offending input back: it may be a secret.
            detail=f"{_location(err.get('loc', ()))}: {err.get('msg', 'invalid value')}",
        )
        for err in raw
    ]
    first = errors[0] if errors else None
    return ErrorInfo(
        status=422,
        code="validation_error",
        title="Validation error",
        detail=first.detail if first else "The request is not valid.",
        field=first.field if first else None,
        errors=tuple(errors),
    )


def _http_exception(exc: Exception) -> ErrorInfo:
    # Starlette's own: 404 of an unknown route, 405 of a known one with another method.
    assert isinstance(exc, StarletteHTTPException)
    code, title = _STATUS_CODES.get(exc.status_code, ("error", "Error"))
    return ErrorInfo(
        status=exc.status_code,
        code=code,
        title=title,
        detail=str(exc.detail),
        headers=dict(exc.headers or {}),
    )


INTERNAL_ERROR = ErrorInfo(
    status=500,
    code="internal_error",
    title="Internal server error",
    detail="An unexpected error occurred; it has been logged.",
)


def _handler(
    describe: Callable[[Exception], ErrorInfo], render: ErrorRenderer
) -> Callable[[Request, Exception], Any]:
    async def handle(request: Request, exc: Exception) -> Response:
        error = describe(exc)
        if error.status >= 500:
            log.error("server error %s on %s %s", error.code, request.method, request.url.path)
        return render(error, request.url.path)

    return handle


async def _unexpected_with(render: ErrorRenderer, request: Request) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return render(INTERNAL_ERROR, request.url.path)


class UnexpectedErrorMiddleware:
    """Answers an unexpected exception with a problem+json 500 and keeps the connection open.

    Starlette's own last-resort handler sends its response and then re-raises, and uvicorn
    closes a keep-alive connection whose application raised after answering, without
    `Connection: close`: the client's next request on it fails with a reset. Here the exception
    is logged with its traceback and ends with the answer. Under the test client (which marks
    its scope with the `http.response.debug` extension) it is raised on after answering, so a
    test still sees the failure itself.
    """

    def __init__(
        self, app: ASGIApp, *, render_for: Callable[[str], ErrorRenderer] | None = None
    ) -> None:
        self.app = app
        # The renderer of the surface that owns a path; problem details when none does.
        self.render_for = render_for or (lambda path: render_problem)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:
                raise  # half a response is out: only closing the connection can end it
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            path = str(scope.get("path", ""))
            response = self.render_for(path)(INTERNAL_ERROR, path)
            await response(scope, receive, send)
            if "http.response.debug" in scope.get("extensions", {}):
                raise


def register(app: FastAPI, render: ErrorRenderer = render_problem) -> None:
    """Every error raised under `app` rendered by `render` (the surface's format)."""
    app.add_exception_handler(MailfleetError, _handler(_mailfleet_error, render))
    app.add_exception_handler(RequestValidationError, _handler(_validation_error, render))
    app.add_exception_handler(StarletteHTTPException, _handler(_http_exception, render))

    async def unexpected(request: Request, exc: Exception) -> Response:
        return await _unexpected_with(render, request)

    app.add_exception_handler(Exception, unexpected)
