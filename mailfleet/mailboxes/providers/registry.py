"""Pick a mailbox provider by backend name (Settings.backend_for(type) names it)."""

from __future__ import annotations

import threading

from mailfleet.config import Settings
from mailfleet.mailboxes.providers.base import MailboxProvider, MailboxProviderError

_cache: dict[tuple[int, str], MailboxProvider] = {}
_lock = threading.Lock()


def provider_for(settings: Settings, name: str) -> MailboxProvider:
    key = (id(settings), name)
    with _lock:
        provider = _cache.get(key)
        if provider is None:
            provider = _cache[key] = _make(settings, name)
    return provider


def _make(settings: Settings, name: str) -> MailboxProvider:
    # Imported lazily: each implementation pulls in its own client library.
    if name == "smtp":
        from mailfleet.mailboxes.providers.smtp import SmtpProvider

        return SmtpProvider(settings)
    if name == "microsoft":
        from mailfleet.mailboxes.providers.microsoft import MicrosoftProvider

        return MicrosoftProvider(settings)
    if name == "google":
        from mailfleet.mailboxes.providers.google import GoogleProvider

        return GoogleProvider(settings)
    raise MailboxProviderError(f"mailbox provider {name!r} is not configured", retryable=False)


def clear() -> None:
    """Forget built providers (settings changed, or a test swapped an implementation)."""
    with _lock:
        _cache.clear()
