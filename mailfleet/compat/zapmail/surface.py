"""The Zapmail surface under /zapmail: `https://api.zapmail.ai/api/v2/...` is
`/zapmail/api/v2/...` here (and `/api/v1/...` likewise).

The key is the raw value of `x-auth-zapmail` (no Bearer), `x-workspace-key` picks the
workspace (its id; absent, the key's or the user's first), errors are the document's
`{status, message, data}` envelope, rate limits are the document's 5 per second and 20 per
minute per key, counted apart from the other surfaces', and the rules are the document's: 5
mailboxes per Google or Microsoft domain, the 24-hour rule, no new Microsoft mailbox while
earlier ones on the domain are not active.
"""

from __future__ import annotations

from types import MappingProxyType

from mailfleet.auth.dependencies import HeaderCredentials
from mailfleet.compat.zapmail import errors
from mailfleet.compat.zapmail.billing.endpoints import router as billing_router
from mailfleet.compat.zapmail.dns.endpoints import router as dns_router
from mailfleet.compat.zapmail.domains.checks import router as domain_checks_router
from mailfleet.compat.zapmail.domains.connections import router as connections_router
from mailfleet.compat.zapmail.domains.endpoints import router as domains_router
from mailfleet.compat.zapmail.domains.settings import router as domain_settings_router
from mailfleet.compat.zapmail.envelope import Error
from mailfleet.compat.zapmail.exports.endpoints import router as exports_router
from mailfleet.compat.zapmail.mailboxes.endpoints import router as mailboxes_router
from mailfleet.compat.zapmail.registration.endpoints import router as registration_router
from mailfleet.compat.zapmail.subscriptions.endpoints import router as subscriptions_router
from mailfleet.compat.zapmail.users.endpoints import router as users_router
from mailfleet.compat.zapmail.workspaces.endpoints import router as workspaces_router
from mailfleet.config import MailboxType, Settings
from mailfleet.policy import PolicyProfile
from mailfleet.surfaces.recipe import RateLimitPolicy, Surface

PREFIX = "/zapmail"
# The document's per-domain limit (rule R1), for the two providers it sells.
DOMAIN_LIMIT = 5
ROUTERS = (
    users_router,
    workspaces_router,
    billing_router,
    mailboxes_router,
    subscriptions_router,
    exports_router,
    domains_router,
    domain_settings_router,
    connections_router,
    domain_checks_router,
    registration_router,
    dns_router,
)
BULK_ROUTES = (("POST", "/api/v2/mailboxes"), ("POST", "/api/v1/mailbox/assign-new"))
DESCRIPTION = (
    "The Zapmail API, served by Mailfleet: point a Zapmail client's base URL "
    "(https://api.zapmail.ai/api) at /zapmail/api here and send a Mailfleet API key in "
    "x-auth-zapmail. See docs/zapmail.md for what is the same, what Mailfleet decided where "
    "the document is silent, and what it adds."
)


def profile(settings: Settings) -> PolicyProfile:
    """The document's rules and rate limits."""
    base = PolicyProfile.from_settings(settings)
    enabled = settings.rate_limit_enabled
    limits = dict(base.domain_limits)
    limits[MailboxType.GOOGLE] = DOMAIN_LIMIT
    limits[MailboxType.MICROSOFT] = DOMAIN_LIMIT
    return base.with_changes(
        "zapmail",
        domain_limits=MappingProxyType(limits),
        recent_creation_rule=settings.zapmail_recent_creation_rule,
        microsoft_wait_for_active=True,
        rate_limit_per_second=settings.zapmail_rate_limit_per_second if enabled else 0,
        rate_limit_per_minute=settings.zapmail_rate_limit_per_minute if enabled else 0,
    )


def zapmail_surface() -> Surface:
    return Surface(
        name="zapmail",
        prefix=PREFIX,
        routers=ROUTERS,
        credentials=HeaderCredentials(
            key_header="x-auth-zapmail",
            scheme=None,
            workspace_header="x-workspace-key",
            workspace_field="x-workspace-key",
            how="Send your Mailfleet API key in the 'x-auth-zapmail' header.",
        ),
        render_error=errors.render_error,
        error_responses={status: {"model": Error} for status in (400, 401, 403, 404, 422, 429)},
        title="Zapmail API (Mailfleet)",
        description=DESCRIPTION,
        rate_limit=RateLimitPolicy(state_key="zapmail_rate_limiter", key_prefix="zapmail:"),
        profile=profile,
        bulk_routes=BULK_ROUTES,
        document_error=errors.document_error,
        status_of=errors.status_of,
    )
