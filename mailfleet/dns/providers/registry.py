"""Pick the DNS provider by name: settings for new zones, the domain's own for existing ones."""

from __future__ import annotations

import threading

from mailfleet.config import Settings
from mailfleet.dns.providers.base import DnsProvider

_cache: dict[tuple[int, str], DnsProvider] = {}
_lock = threading.Lock()


def provider_for(settings: Settings, name: str | None = None) -> DnsProvider:
    name = name or settings.dns_provider
    key = (id(settings), name)
    with _lock:
        provider = _cache.get(key)
        if provider is None:
            provider = _cache[key] = _make(settings, name)
    return provider


def _make(settings: Settings, name: str) -> DnsProvider:
    # Imported lazily: each implementation pulls in its own client library.
    if name == "builtin":
        from mailfleet.dns.providers.builtin import BuiltinDnsProvider

        return BuiltinDnsProvider()
    if name == "powerdns":
        from mailfleet.dns.providers.powerdns import PowerDnsProvider

        return PowerDnsProvider(settings)
    if name == "cloudflare":
        from mailfleet.dns.providers.cloudflare import CloudflareProvider

        return CloudflareProvider(settings)
    raise ValueError(f"unknown DNS provider {name!r}: use builtin, powerdns or cloudflare")
