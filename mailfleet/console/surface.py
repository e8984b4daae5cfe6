"""The web console under /console, mounted with the surface recipe.

Its credential is the session cookie (resolved by console.service.resolve, never an API key),
its errors are HTML pages (a 401 sends the page to the sign-in form), it has no idempotency
policy (forms carry CSRF tokens instead) and its own rate limit, counted per session apart
from the API surfaces'. The rules are the deployment's, as on /v1.
"""

from __future__ import annotations

from mailfleet.console import (
    assets,
    billing,
    domain_settings,
    exports_page,
    forgot,
    keys,
    mailbox_page,
    members,
    operating,
    ordering,
    pages,
    records_page,
    security,
    service,
    signin,
    webhooks_page,
)
from mailfleet.console.web import PREFIX, CookieCredentials, render_error
from mailfleet.idempotency.middleware import IdempotencyPolicy
from mailfleet.surfaces.recipe import RateLimitPolicy, Surface

ROUTERS = (
    assets.router,
    signin.router,
    forgot.router,
    security.router,
    pages.router,
    operating.router,
    mailbox_page.router,
    ordering.router,
    records_page.router,
    domain_settings.router,
    keys.router,
    members.router,
    billing.router,
    exports_page.router,
    webhooks_page.router,
    pages.json_router,
    mailbox_page.json_router,
)
# A pasted list of up to 10,000 domain names.
BULK_ROUTES = (("POST", "/domains"),)


def console_surface() -> Surface:
    return Surface(
        name="console",
        prefix=PREFIX,
        routers=ROUTERS,
        credentials=CookieCredentials(),
        render_error=render_error,
        error_responses={},
        title="Mailfleet console",
        description="The web console's JSON for its own pages' scripts (not a public API).",
        idempotency=IdempotencyPolicy(methods=frozenset()),
        rate_limit=RateLimitPolicy(state_key="console_rate_limiter", key_prefix="console:"),
        bulk_routes=BULK_ROUTES,
        resolve_principal=service.resolve,
    )
