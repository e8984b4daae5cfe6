"""The mailbox providers by backend name (Settings.backend_for(type) names it)."""

from __future__ import annotations

from mailfleet.config import Settings
from mailfleet.kit.providers import ProviderRegistry, UnknownProviderError
from mailfleet.mailboxes.providers.base import MailboxProvider, MailboxProviderError


def _not_configured(error: UnknownProviderError) -> Exception:
    # Permanent: the provisioning job fails the mailbox with this reason instead of retrying.
    return MailboxProviderError(
        f"mailbox provider {error.name!r} is not configured (known: {', '.join(error.known)})",
        retryable=False,
    )


MAILBOX_PROVIDERS: ProviderRegistry[MailboxProvider] = ProviderRegistry(
    "mailbox", "mailbox provider", error=_not_configured
)
# Mailfleet's own Postfix/Dovecot: there is no customer account to install.
MAILBOX_PROVIDERS.register("smtp", "mailfleet.mailboxes.providers.smtp:SmtpProvider")
MAILBOX_PROVIDERS.register(
    "google",
    "mailfleet.mailboxes.providers.google:GoogleProvider",
    credentials={"service_account_json": "google_service_account_json"},
    config={
        "admin_subject": "google_admin_subject",
        "customer_id": "google_customer_id",
        "org_unit_path": "google_org_unit_path",
    },
)
MAILBOX_PROVIDERS.register(
    "microsoft",
    "mailfleet.mailboxes.providers.microsoft:MicrosoftProvider",
    credentials={"client_secret": "microsoft_client_secret"},
    config={
        "tenant_id": "microsoft_tenant_id",
        "client_id": "microsoft_client_id",
        "license_sku_id": "microsoft_license_sku_id",
        "usage_location": "microsoft_usage_location",
    },
)


def provider_for(settings: Settings, name: str) -> MailboxProvider:
    """The provider of backend `name`, built once per Settings object."""
    return MAILBOX_PROVIDERS.get(settings, name)


def clear() -> None:
    """Forget built providers (settings changed, or a test swapped an implementation)."""
    MAILBOX_PROVIDERS.clear()
