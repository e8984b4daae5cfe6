"""The registrars by name; `settings.registrar` picks the deployment's, and
`settings.registrar_accounts` adds accounts at it (registrars.accounts)."""

from __future__ import annotations

from collections.abc import Mapping

from mailfleet.config import RegistrarAccount, Settings
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


# The account the deployment's own registrar settings are.
DEFAULT_ACCOUNT = "default"


def registrar_for(settings: Settings) -> Registrar:
    """The registrar names are checked and priced at, built once per Settings: the
    deployment's, else (MAILFLEET_REGISTRAR=none with accounts listed) its first account's."""
    if settings.registrar == "none" and settings.registrar_accounts:
        first = settings.registrar_accounts[0]
        return registrar_of(settings, first.registrar, first.name)
    return REGISTRARS.get(settings, settings.registrar)


def _spec(settings: Settings, name: str) -> RegistrarAccount | None:
    return next((a for a in settings.registrar_accounts if a.name == name), None)


def registrar_of(settings: Settings, registrar: str, account: str) -> Registrar:
    """The client of `registrar` acting on `account`: the deployment's settings with the
    account's credentials in place (the default account, or one no longer configured: the
    settings as they are)."""
    spec = _spec(settings, account)
    if account == DEFAULT_ACCOUNT or spec is None or spec.registrar != registrar:
        return REGISTRARS.get(settings, registrar)
    registration = REGISTRARS.registration(registrar)

    def load() -> tuple[Mapping[str, str], Mapping[str, str]]:
        credentials = {
            key: getattr(spec, key).get_secret_value()
            for key in registration.credentials
            if key in RegistrarAccount.model_fields
        }
        config = {
            key: str(getattr(spec, key))
            for key in registration.config
            if key in RegistrarAccount.model_fields
        }
        return credentials, config

    return REGISTRARS.get_installed(
        settings, registrar, cache_key=("registrar-account", account), load=load
    )
