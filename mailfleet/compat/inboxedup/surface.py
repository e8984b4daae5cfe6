"""The InboxedUp surface under /inboxedup: Bearer keys, the `{success: false, error}` envelope,
the document's rules (its per-domain limits, no 24-hour rule, no Microsoft wait)."""

from __future__ import annotations

from types import MappingProxyType

from mailfleet.auth.dependencies import HeaderCredentials
from mailfleet.compat.inboxedup import errors, schemas
from mailfleet.compat.inboxedup.endpoints import router
from mailfleet.config import MailboxType, Settings
from mailfleet.policy import PolicyProfile
from mailfleet.surfaces.recipe import Surface

PREFIX = "/inboxedup"
# The document's per-domain limits, whatever the deployment's are.
DOMAIN_LIMITS = MappingProxyType(
    {
        MailboxType.MICROSOFT: 3,
        MailboxType.GOOGLE: 3,
        MailboxType.SMTP: 5,
        MailboxType.SMTP_DEDICATED: 10,
    }
)
BULK_ROUTES = (("POST", "/domains"), ("POST", "/mailboxes"))
DESCRIPTION = (
    "The InboxedUp API, served by Mailfleet: point an InboxedUp client's base URL here and "
    "use a Mailfleet API key as its Bearer token. See docs/inboxedup.md for what is the same, "
    "what Mailfleet decided where the document is silent, and what it adds."
)


def profile(settings: Settings) -> PolicyProfile:
    """The document's rules; the deployment's rate limits (a key's calls count once across
    every surface)."""
    return PolicyProfile.from_settings(settings).with_changes(
        "inboxedup",
        domain_limits=DOMAIN_LIMITS,
        recent_creation_rule=settings.inboxedup_recent_creation_rule,
        microsoft_wait_for_active=settings.inboxedup_microsoft_wait_for_active,
    )


def inboxedup_surface() -> Surface:
    return Surface(
        name="inboxedup",
        prefix=PREFIX,
        routers=(router,),
        credentials=HeaderCredentials(
            how="Send your Mailfleet API key as 'Authorization: Bearer <key>'."
        ),
        render_error=errors.render_error,
        error_responses={
            status: {"model": schemas.Error} for status in (400, 401, 403, 404, 422, 429)
        },
        title="InboxedUp API (Mailfleet)",
        description=DESCRIPTION,
        profile=profile,
        bulk_routes=BULK_ROUTES,
        document_error=errors.document_error,
        status_of=errors.status_of,
    )
