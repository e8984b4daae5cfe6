"""The DNS providers by name: settings pick the one for new zones, a domain keeps its own."""

from __future__ import annotations

from mailfleet.config import Settings
from mailfleet.dns.providers.base import DnsProvider
from mailfleet.kit.providers import ProviderRegistry

DNS_PROVIDERS: ProviderRegistry[DnsProvider] = ProviderRegistry(
    "dns", "DNS provider", default=lambda settings: settings.dns_provider
)
DNS_PROVIDERS.register("builtin", "mailfleet.dns.providers.builtin:BuiltinDnsProvider")
DNS_PROVIDERS.register(
    "powerdns",
    "mailfleet.dns.providers.powerdns:PowerDnsProvider",
    credentials={"api_key": "powerdns_api_key"},
    config={"api_url": "powerdns_api_url", "server_id": "powerdns_server_id"},
)
DNS_PROVIDERS.register(
    "cloudflare",
    "mailfleet.dns.providers.cloudflare:CloudflareProvider",
    credentials={"api_token": "cloudflare_api_token"},
    config={"account_id": "cloudflare_account_id"},
)


def provider_for(settings: Settings, name: str | None = None) -> DnsProvider:
    """The provider `name` (default: the settings' `dns_provider`), built once per Settings."""
    return DNS_PROVIDERS.get(settings, name or settings.dns_provider)


def clear() -> None:
    """Forget built providers (settings changed, or a test swapped an implementation)."""
    DNS_PROVIDERS.clear()
