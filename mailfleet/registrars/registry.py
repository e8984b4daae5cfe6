"""The registrars by name; `settings.registrar` picks the deployment's."""

from __future__ import annotations

from mailfleet.config import Settings
from mailfleet.kit.providers import ProviderRegistry
from mailfleet.registrars.protocol import Registrar

REGISTRARS: ProviderRegistry[Registrar] = ProviderRegistry(
    "registrar", "registrar", default=lambda settings: settings.registrar
)
REGISTRARS.register("none", "mailfleet.registrars.none:NoRegistrar")
REGISTRARS.register(
    "porkbun",
    "mailfleet.registrars.porkbun:Porkbun",
    credentials={"api_key": "porkbun_api_key", "secret_api_key": "porkbun_secret_api_key"},
)

REGISTRARS.register(
    "namecheap",
    "mailfleet.registrars.namecheap:Namecheap",
    credentials={"api_key": "namecheap_api_key"},
    config={"api_user": "namecheap_api_user", "username": "namecheap_username"},
)


def registrar_for(settings: Settings) -> Registrar:
    """The deployment's registrar, built once per Settings."""
    return REGISTRARS.get(settings, settings.registrar)
