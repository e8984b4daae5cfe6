"""Render every error as RFC 9457 problem details; log the unexpected ones."""

from __future__ import annotations

import json
import logging
from typing import Any

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


async def _mailfleet_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MailfleetError)
    if exc.status >= 500:
        log.error("server error %s on %s %s", exc.code, request.method, request.url.path)
    return problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        field=exc.field,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(err.get("type") == "json_invalid" for err in raw):
        return problem_response(
            status=400,
            code="malformed_json",
            title="Bad request",
            detail="The request body is not valid JSON.",
            instance=request.url.path,
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
    return problem_response(
        status=422,
        code="validation_error",
        title="Validation error",
        detail=first.detail if first else "The request is not valid.",
        instance=request.url.path,
        field=first.field if first else None,
        errors=errors,
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _STATUS_CODES.get(exc.status_code, ("error", "Error"))
    return problem_response(
        status=exc.status_code,
        code=code,
        title=title,
        detail=str(exc.detail),
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _internal_error(request.url.path)


class UnexpectedErrorMiddleware:
    """Answers an unexpected exception with a problem+json 500 and keeps the connection open.

    Starlette's own last-resort handler sends its response and then re-raises, and uvicorn
    closes a keep-alive connection whose application raised after answering, without
    `Connection: close`: the client's next request on it fails with a reset. Here the exception
    is logged with its traceback and ends with the answer. Under the test client (which marks
    its scope with the `http.response.debug` extension) it is raised on after answering, so a
    test still sees the failure itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            response = _internal_error(str(scope.get("path", "")))
            await response(scope, receive, send)
            if "http.response.debug" in scope.get("extensions", {}):
                raise


def _internal_error(instance: str) -> Response:
    return problem_response(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="An unexpected error occurred; it has been logged.",
        instance=instance,
    )


def register(app: FastAPI) -> None:
    app.add_exception_handler(MailfleetError, _mailfleet_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
