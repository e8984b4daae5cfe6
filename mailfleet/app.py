"""The application factory: one FastAPI app per Settings, state built once and shared."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mailfleet import __version__, exception_handlers
from mailfleet.auth.cache import share_invalidations
from mailfleet.auth.ratelimit import rate_limiter_for
from mailfleet.auth.service import LastUsedRecorder
from mailfleet.background import lifespan
from mailfleet.compat.inboxedup.surface import inboxedup_surface
from mailfleet.compat.zapmail.surface import zapmail_surface
from mailfleet.config import Settings
from mailfleet.console.surface import console_surface
from mailfleet.db import Database
from mailfleet.docs import install_docs
from mailfleet.forwarding.middleware import ForwardingMiddleware
from mailfleet.jobs.queue import Runtime
from mailfleet.kit.bodylimit import BodyLimitMiddleware
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.pagecache import PageCache
from mailfleet.surfaces.native import native_surface
from mailfleet.surfaces.recipe import (
    Surface,
    SurfaceApp,
    SurfaceDispatch,
    build_surfaces,
    bulk_routes_of,
    merged_openapi,
    renderer_for,
)

HEALTH_BODY = b'{"status":"ok"}'
DEFAULT_SURFACES = (native_surface(), inboxedup_surface(), zapmail_surface(), console_surface())


class ConcurrencyGate:
    """Caps the API requests in flight below the worker threads and pooled connections.

    A write request takes its database lock (SQLite's write lock, PostgreSQL row locks) in its
    first worker-thread hop and releases it at commit, two hops later. If every worker thread
    were held by requests waiting for that lock, the holder could never get a thread to commit.
    Waiting here, in the event loop, costs no thread and no connection.
    """

    def __init__(self, app: ASGIApp, *, limit: int, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.limit = limit
        # The surfaces' prefixes, each ending in "/": health and docs never wait here.
        self.prefixes = prefixes
        # One semaphore per event loop: asyncio primitives belong to the loop that made them.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.limit)
        async with gate:
            await self.app(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    surfaces: Sequence[Surface] | None = None,
) -> FastAPI:
    """The app: every surface (the native API, InboxedUp's and Zapmail's unless told) mounted
    under its prefix."""
    settings = settings or Settings()
    surfaces = tuple(surfaces) if surfaces is not None else DEFAULT_SURFACES
    database = database or Database(settings)
    app = FastAPI(
        title="Mailfleet",
        version=__version__,
        description="Control plane for cold-email infrastructure: domains, DNS, mailboxes.",
        # /docs and /redoc come from mailfleet.docs, with their assets served locally.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.secrets = SecretBox.from_settings(settings)
    # In this process's memory, or shared through Redis by several processes (kit.shared).
    app.state.rate_limiter = rate_limiter_for(settings)
    share_invalidations(settings)
    app.state.last_used = LastUsedRecorder()
    app.state.pages = PageCache(database.engine, max_bytes=settings.page_cache_bytes)
    # Jobs asked for by requests go to this queue once their transaction commits.
    app.state.runtime = Runtime(settings, database)

    # Outside every surface (health, docs, a path no surface owns): problem details.
    exception_handlers.register(app)
    mounted = build_surfaces(app, surfaces, version=__version__)
    # Warmed by the lifespan before the server takes requests (mailfleet.background).
    app.state.route_apps = [app, *mounted.values()]
    install_docs(app)
    if "native" in mounted:
        _document_at_root(app, mounted["native"])

    @app.get("/health", tags=["health"], include_in_schema=True)
    async def health() -> Response:
        """Liveness: answers without touching the database."""
        return Response(HEALTH_BODY, media_type="application/json")

    if "console" in mounted:

        @app.get("/console", include_in_schema=False)
        async def console_root() -> Response:
            """The console's pages live under /console/ (its surface's prefix and a slash)."""
            return Response(status_code=308, headers={"Location": "/console/"})

    app.add_middleware(
        SurfaceDispatch,
        surfaces=[(surface.prefix, mounted[surface.name]) for surface in surfaces],
    )
    app.add_middleware(
        ForwardingMiddleware,
        database=database,
        own_hosts=frozenset({settings.host, "localhost", "testserver"}),
    )
    # Outside idempotency, so that the idempotency middleware's own queries are inside the cap.
    app.add_middleware(
        ConcurrencyGate,
        limit=settings.max_inflight_requests,
        prefixes=tuple(surface.prefix + "/" for surface in surfaces),
    )
    # Bodies are bounded before anything reads them, and outside the gate: a slow upload holds
    # no place in it.
    render_for = renderer_for(surfaces)
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_request_body_bytes,
        bulk_limit=settings.max_bulk_request_body_bytes,
        bulk_routes=bulk_routes_of(surfaces),
        render_for=render_for,
    )
    # Outermost of ours: every unexpected exception ends in a 500 that keeps the connection.
    app.add_middleware(exception_handlers.UnexpectedErrorMiddleware, render_for=render_for)
    logging.getLogger("mailfleet").setLevel(settings.log_level)
    return app


def _document_at_root(app: FastAPI, surface: SurfaceApp) -> None:
    """/openapi.json (and /docs) describe the native surface as they always did; every surface
    also serves its own document at {prefix}/openapi.json."""
    root_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = merged_openapi(root_openapi(), surface.openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
