"""One recipe for every API surface: a sub-application mounted under its own prefix.

A `Surface` names what differs between the native API and the compat ones (InboxedUp, Zapmail,
the console): how a request's credentials become the shared `Caller`, how errors render, the
rate-limit and idempotency policies, and the policy profile of the business rules. Everything
else (routers calling the same services, the auth cache, the database) is shared through the
parent app's state. Every error raised under the prefix (validation, unknown route, 405, rate
limit, idempotency conflict, 413, 500) renders in the surface's format, and each surface has its
own OpenAPI document at `{prefix}/openapi.json`, which lists per route the error codes it can
answer with (`document_errors`: the routes' and dependencies' declared codes, kit.errordocs, and
the recipe's own) in the surface's format. The parent hands a surface its requests with
`SurfaceDispatch`, one prefix check per request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailfleet import exception_handlers
from mailfleet.auth.dependencies import CredentialScheme, PrincipalResolver, SurfaceAuth
from mailfleet.auth.ratelimit import RateLimits, rate_limiter_for
from mailfleet.config import Settings
from mailfleet.docs import install_surface_docs
from mailfleet.exception_handlers import ErrorRenderer
from mailfleet.exceptions import ERROR_CODES
from mailfleet.idempotency.middleware import IdempotencyMiddleware, IdempotencyPolicy
from mailfleet.kit.bodylimit import BulkRoute, bulk_route
from mailfleet.kit.errordocs import EXTENSION, by_status, native_status, route_codes
from mailfleet.policy import PolicyProfile

OpenAPIResponses = dict[int | str, dict[str, Any]]
# Documents one error status of an operation: (its response object, the status, its codes).
ErrorDocumenter = Callable[[dict[str, Any], int, Sequence[str]], None]

# What the recipe's own machinery can answer on any route of any surface: request validation
# (exception_handlers), the body limit (kit.bodylimit), and on the idempotent methods the
# idempotency middleware. Authentication and roles come with the routes' dependencies.
EVERY_ROUTE_CODES = frozenset({"validation_error", "request_too_large"})
BODY_CODES = frozenset({"malformed_json"})
IDEMPOTENCY_CODES = frozenset(
    {"invalid_idempotency_key", "idempotency_key_reused", "idempotency_key_in_progress"}
)


def describe_codes(response: dict[str, Any], status: int, codes: Sequence[str]) -> None:
    """The status's description names each code it may carry, with what it means."""
    lines = "\n".join(f"- `{code}`: {ERROR_CODES[code].meaning}" for code in codes)
    response["description"] = f"{HTTPStatus(status).phrase}. The `code` is one of:\n\n{lines}"


def deployment_limiter(settings: Settings, profile: PolicyProfile) -> RateLimits:
    """The deployment's kind of limiter (in memory, or shared through Redis) at the profile's
    limits."""
    enabled = bool(profile.rate_limit_per_second or profile.rate_limit_per_minute)
    limits = settings.model_copy(
        update={
            "rate_limit_enabled": enabled,
            "rate_limit_per_second": profile.rate_limit_per_second,
            "rate_limit_per_minute": profile.rate_limit_per_minute,
        }
    )
    return rate_limiter_for(limits)


@dataclass(frozen=True)
class RateLimitPolicy:
    # The app.state attribute holding the limiter: surfaces naming the same one share counts.
    state_key: str = "rate_limiter"
    # Put before the key id in the limiter's keys, so surfaces with their own limits sharing
    # one Redis count apart.
    key_prefix: str = ""
    build: Callable[[Settings, PolicyProfile], RateLimits] = deployment_limiter


@dataclass(frozen=True)
class Surface:
    name: str
    prefix: str
    routers: Sequence[APIRouter]
    credentials: CredentialScheme
    render_error: ErrorRenderer
    # What every route may answer with, in this surface's format (for its OpenAPI document).
    error_responses: OpenAPIResponses
    title: str
    description: str = ""
    idempotency: IdempotencyPolicy = field(default_factory=IdempotencyPolicy)
    rate_limit: RateLimitPolicy = field(default_factory=RateLimitPolicy)
    # The rules' parameters; the deployment's settings unless the surface documents others.
    profile: Callable[[Settings], PolicyProfile] = PolicyProfile.from_settings
    # Routes whose documented payloads are big, as (method, path under the prefix): they take
    # MAILFLEET_MAX_BULK_REQUEST_BODY_BYTES instead of the default body limit.
    bulk_routes: Sequence[tuple[str, str]] = ()
    # Routes authenticated by something other than the credential scheme (a payment provider's
    # signed webhook), as (method, path under the prefix): a credential sent to them is never
    # looked at, so the idempotency and rate-limit policies, which key on it, never apply.
    public_routes: Sequence[tuple[str, str]] = ()
    # How an error status is documented per route in this surface's format (its schema).
    document_error: ErrorDocumenter = describe_codes
    # The status the surface answers a code with, given the native one (its renderer's rule).
    status_of: Callable[[str, int], int] = native_status
    # A credential that is not an API key (the console's session cookie): who sends it.
    resolve_principal: PrincipalResolver | None = None

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def bulk_patterns(self) -> tuple[BulkRoute, ...]:
        return tuple(bulk_route(method, self.prefix, path) for method, path in self.bulk_routes)


class SurfaceApp(FastAPI):
    """A surface's own app: its routes, error handlers and middleware; the parent's state."""

    surface: Surface
    surface_auth: SurfaceAuth

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document_errors(super().openapi(), self.routes, self.surface)
        return self.openapi_schema  # type: ignore[return-value]


def api_routes(routes: Sequence[Any]) -> list[RouteContext]:
    """The API routes of an app as mounted (prefix included), through its included routers."""
    return [c for c in iter_route_contexts(routes) if isinstance(c.original_route, APIRoute)]


def operation_codes(route: RouteContext, method: str, spec: Surface) -> set[str]:
    """Every code `route` can answer `method` with under `spec`."""
    codes = route_codes(route) | EVERY_ROUTE_CODES
    if route.body_field is not None:
        codes |= BODY_CODES
    public = {(m, spec.prefix + path) for m, path in spec.public_routes}
    # A public route's requests carry no credential the idempotency policy could key on.
    if method in spec.idempotency.methods and (method, route.path_format) not in public:
        codes |= IDEMPOTENCY_CODES
    return codes


def document_errors(document: dict[str, Any], routes: Sequence[Any], spec: Surface) -> None:
    """Adds to each operation the codes it can answer with, per status, in the surface's way."""
    for route in api_routes(routes):
        if not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = document.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            codes = operation_codes(route, method, spec)
            operation[EXTENSION] = sorted(codes)
            for status, named in by_status(codes, spec.status_of).items():
                response = operation.setdefault("responses", {}).setdefault(str(status), {})
                spec.document_error(response, status, named)


class RateLimitHeadersMiddleware:
    """Adds the RateLimit-* headers computed during authentication to the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                quota = state.get("ratelimit")
                if quota is not None:
                    message["headers"] = [*message.get("headers", []), *quota.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _credential_of(
    credentials: CredentialScheme, public: frozenset[tuple[str, str]] = frozenset()
) -> Callable[[Scope], str | None]:
    def credential(scope: Scope) -> str | None:
        if public and (scope["method"], scope["path"]) in public:
            return None
        return credentials.token(Headers(scope=scope))

    return credential


def build_surface(spec: Surface, parent: FastAPI, *, version: str) -> SurfaceApp:
    """The surface's app, sharing `parent`'s state (settings, database, caches, runtime)."""
    settings: Settings = parent.state.settings
    profile = spec.profile(settings)
    app = SurfaceApp(
        title=spec.title,
        version=version,
        description=spec.description,
        docs_url=None,
        redoc_url=None,
        openapi_url=f"{spec.prefix}/openapi.json",
    )
    app.state = parent.state
    app.surface = spec
    if not hasattr(parent.state, spec.rate_limit.state_key):
        setattr(parent.state, spec.rate_limit.state_key, spec.rate_limit.build(settings, profile))
    app.surface_auth = SurfaceAuth(
        spec.credentials,
        spec.rate_limit.state_key,
        profile,
        spec.rate_limit.key_prefix,
        spec.resolve_principal,
    )
    exception_handlers.register(app, spec.render_error)
    install_surface_docs(app, spec.prefix)
    for router in spec.routers:
        # Routes keep their whole path (/v1/...): the surface is reached by `SurfaceDispatch`
        # with the scope untouched, so routing compares paths without a root_path to strip.
        app.include_router(router, prefix=spec.prefix, responses=spec.error_responses)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(
        IdempotencyMiddleware,
        database=parent.state.db,
        secrets=parent.state.secrets,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        policy=spec.idempotency,
        credential_of=_credential_of(
            spec.credentials,
            frozenset((method, spec.prefix + path) for method, path in spec.public_routes),
        ),
        render=spec.render_error,
    )
    # Inside the surface's own ServerErrorMiddleware: a 500 in its format that keeps the
    # connection (see UnexpectedErrorMiddleware).
    app.add_middleware(
        exception_handlers.UnexpectedErrorMiddleware, render_for=lambda path: spec.render_error
    )
    return app


def build_surfaces(
    parent: FastAPI, specs: Sequence[Surface], *, version: str
) -> dict[str, SurfaceApp]:
    """Each surface's app by name; `SurfaceDispatch` in the parent hands them their requests."""
    return {spec.name: build_surface(spec, parent, version=version) for spec in specs}


class SurfaceDispatch:
    """Hands every request under a surface's prefix to the surface's app: a mounted sub-app.

    Not through Starlette's Mount: a Mount sets root_path to the prefix, and then every route
    of the surface strips it from the path before matching (a few µs per route, on every
    request). Here the scope goes on as it is and the surface's routes carry the prefix. The
    surface's app is entered below FastAPI's own __call__, whose per-request telemetry check the
    parent app has made already.
    """

    def __init__(self, app: ASGIApp, *, surfaces: Sequence[tuple[str, Starlette]]) -> None:
        self.app = app
        self.surfaces = tuple(
            (prefix + "/", functools.partial(Starlette.__call__, surface))
            for prefix, surface in surfaces
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            for start, surface in self.surfaces:
                if path.startswith(start):
                    await surface(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def bulk_routes_of(specs: Sequence[Surface]) -> tuple[BulkRoute, ...]:
    """Every surface's bulk routes, for the body-limit middleware in front of them all."""
    return tuple(pattern for spec in specs for pattern in spec.bulk_patterns())


def renderer_for(specs: Sequence[Surface]) -> Callable[[str], ErrorRenderer]:
    """The error renderer of the surface owning a path (problem details outside them all)."""

    def render_for(path: str) -> ErrorRenderer:
        for spec in specs:
            if spec.owns(path):
                return spec.render_error
        return exception_handlers.render_problem

    return render_for


def merged_openapi(root: Mapping[str, Any], surface: Mapping[str, Any]) -> dict[str, Any]:
    """The root app's document (health) with a surface's paths and schemas added."""
    document = dict(root)
    document["paths"] = {**surface.get("paths", {}), **root.get("paths", {})}
    components = dict(root.get("components", {}))
    for kind, items in surface.get("components", {}).items():
        components[kind] = {**items, **components.get(kind, {})}
    if components:
        document["components"] = components
    return document
