"""Answer requests for forwarded domains with a redirect, chosen by the Host header.

The domain's managed A/CNAME records point the domain and www at Mailfleet's web address, so
the browser's request lands here. Any other host (the API's own name, an IP address) passes
through untouched; lookups are cached briefly so API requests pay a dict lookup at most.

The cache stays in each process's memory, with several processes too: nothing invalidates it,
in this process or another, so a forwarding change (set, changed, cleared, domain removed) is
served by every process within CACHE_SECONDS of its commit, however many there are. Sharing it
would buy nothing for a redirect, and would cost a Redis call on every API request.
"""

from __future__ import annotations

import ipaddress
import time

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mailfleet.db import Database
from mailfleet.models import Domain, DomainStatus

CACHE_SECONDS = 30.0
CACHE_LIMIT = 10_000
Target = tuple[str, int] | None


class ForwardingMiddleware:
    def __init__(self, app: ASGIApp, *, database: Database, own_hosts: frozenset[str]) -> None:
        self.app = app
        self.database = database
        self.own_hosts = own_hosts
        self._cache: dict[str, tuple[float, Target]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = _host(scope)
            if host and self._may_forward(host):
                target = await self._target(host)
                if target is not None:
                    url, code = target
                    await RedirectResponse(url, status_code=code)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _may_forward(self, host: str) -> bool:
        if host in self.own_hosts or "." not in host:
            return False
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return True
        return False

    async def _target(self, host: str) -> Target:
        cached = self._cache.get(host)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        target = await run_in_threadpool(self._lookup, host)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[host] = (now + CACHE_SECONDS, target)
        return target

    def _lookup(self, host: str) -> Target:
        names = [host] + ([host[4:]] if host.startswith("www.") else [])
        with self.database.transaction(write=False) as session:
            row = session.execute(
                select(Domain.forwarding_url, Domain.forwarding_code).where(
                    Domain.name.in_(names),
                    Domain.status != DomainStatus.REMOVED,
                    Domain.forwarding_url.is_not(None),
                )
            ).first()
        if row is None:
            return None
        return str(row[0]), int(row[1] or 301)


def _host(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"host":
            host = value.decode("latin-1").lower()
            if host.startswith("["):
                return None  # an IPv6 literal, never a forwarded domain
            return host.split(":", 1)[0].rstrip(".")
    return None
