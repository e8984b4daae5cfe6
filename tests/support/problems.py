"""Every error code a route answers with in the test run must be in its OpenAPI responses.

A pytest plugin (listed in tests/conftest.py). It wraps `SurfaceDispatch`, which hands every
request to its surface, and records each error answer (problem+json, or a compat surface's
JSON envelope) as (method, route template, status, code), the route found the way the
surface's router finds it. At the end of the
session any pair the surface's OpenAPI document does not list (the code under `x-error-codes`
and its status among the operation's responses) fails the run, and all are printed. 500
`internal_error` is left out: it is never a code a route means to answer with.
`MAILFLEET_UNDOCUMENTED_ERRORS=path` also writes them there as JSON lines.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from mailfleet.exception_handlers import PROBLEM_CONTENT_TYPE
from mailfleet.exceptions import ERROR_CODES
from mailfleet.kit.errordocs import EXTENSION
from mailfleet.surfaces.recipe import SurfaceApp, SurfaceDispatch, api_routes

Pair = tuple[str, str, int, str]

_dispatch = SurfaceDispatch.__call__
_undocumented: set[Pair] = set()
# One document per composition of a surface: the tests build many apps from the same routers.
_documents: dict[tuple[object, ...], dict[str, Any]] = {}


def _document(app: SurfaceApp) -> dict[str, Any]:
    spec = app.surface
    key = (spec.name, spec.prefix, spec.document_error, *map(id, spec.routers))
    if key not in _documents:
        _documents[key] = app.openapi()
    return _documents[key]


def route_of(app: SurfaceApp, method: str, path: str) -> str | None:
    """The template of the route `app` dispatches `method path` to (None: no such route)."""
    scope = {"type": "http", "method": method, "path": path}
    for route in api_routes(app.routes):
        match, _ = route.matches(dict(scope))
        if match == Match.FULL:
            return str(route.path_format)
    return None


def documented(app: SurfaceApp, method: str, template: str, status: int, code: str) -> bool:
    operation = _document(app).get("paths", {}).get(template, {}).get(method.lower(), {})
    return (
        code in operation.get(EXTENSION, ())
        and str(status) in operation.get("responses", {})
        and code in ERROR_CODES
        and status in {app.surface.status_of(code, s) for s in ERROR_CODES[code].statuses}
    )


def _code_of(body: bytes) -> str | None:
    """The code of an error body: problem details' `code`, or a compat envelope's
    `error.code`."""
    try:
        parsed = json.loads(body)
        found = parsed["code"] if "code" in parsed else parsed["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(found)


def _note(app: SurfaceApp, scope: Scope, status: int, body: bytes) -> None:
    code = _code_of(body)
    if code is None:
        return
    if status == 500 and code == "internal_error":
        return
    template = route_of(app, scope["method"], scope["path"])
    if template is not None and not documented(app, scope["method"], template, status, code):
        _undocumented.add((scope["method"], template, status, code))


async def _recording(self: SurfaceDispatch, scope: Scope, receive: Receive, send: Send) -> None:
    path = scope["path"] if scope["type"] == "http" else ""
    app = next((call.args[0] for start, call in self.surfaces if path.startswith(start)), None)
    if not isinstance(app, SurfaceApp):
        await _dispatch(self, scope, receive, send)
        return
    seen: dict[str, Any] = {"status": 0, "problem": False, "body": []}

    async def watch(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
            content_type = dict(message.get("headers", [])).get(b"content-type", b"")
            kind = content_type.decode("latin-1")
            seen["problem"] = kind.startswith((PROBLEM_CONTENT_TYPE, "application/json"))
        elif message["type"] == "http.response.body" and seen["problem"]:
            seen["body"].append(message.get("body", b""))
        await send(message)

    await _dispatch(self, scope, receive, watch)
    if seen["problem"] and seen["status"] >= 400:
        _note(app, scope, seen["status"], b"".join(seen["body"]))


SurfaceDispatch.__call__ = _recording  # type: ignore[method-assign]


def undocumented() -> list[Pair]:
    return sorted(_undocumented)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _undocumented:
        return
    terminalreporter.section("error codes answered but not in the route's OpenAPI responses")
    for method, template, status, code in undocumented():
        terminalreporter.line(f"{method} {template}: {status} {code}")
    terminalreporter.line(
        "Declare them on the route (openapi_extra=errors(...), mailfleet.kit.errordocs) "
        "or on the dependency raising them (@declares)."
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    report = os.environ.get("MAILFLEET_UNDOCUMENTED_ERRORS")
    if report:
        with open(report, "a") as out:
            for pair in undocumented():
                out.write(json.dumps(pair) + "\n")
    if _undocumented and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
