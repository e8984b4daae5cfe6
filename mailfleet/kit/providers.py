"""One way to choose a provider: a registry per Protocol (a "kind": DNS, mailbox, and next
registrars, payments and sequencers) mapping a name to a lazily imported factory.

A factory is `"package.module:Class"`, called with the Settings it is built for. The import
is lazy because each implementation pulls in its own client library, which a deployment that
never uses it should not pay for (or even have installed).

Built providers are cached per Settings object, for as long as that object lives: the cache
holds it weakly and checks identity, so a Settings that was garbage-collected (and whose id()
a new one reuses) never hands out its providers. A registration may also say which of its
settings a customer's own account replaces (`credentials`, `config`): that is how a
per-workspace installation (mailfleet.integrations) builds the provider from the deployment's
settings with the customer's credentials and account ids put in.

Adding a kind is a few lines:

    SEQUENCERS: ProviderRegistry[Sequencer] = ProviderRegistry("sequencer", "sequencer provider")
    SEQUENCERS.register("smartlead", "mailfleet.exports.providers.smartlead:Smartlead",
                        credentials={"api_key": "smartlead_api_key"})

plus one line in KIND_MODULES so installations can find it by its kind.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from pydantic import SecretStr

from mailfleet.config import Settings

P = TypeVar("P")

# Where each kind's registry lives ("module:attribute"), imported on first use so that this
# module depends on none of them.
KIND_MODULES: dict[str, str] = {
    "dns": "mailfleet.dns.providers.registry:DNS_PROVIDERS",
    "mailbox": "mailfleet.mailboxes.providers.registry:MAILBOX_PROVIDERS",
    "payments": "mailfleet.billing.payments.registry:PAYMENT_PROVIDERS",
    "registrar": "mailfleet.registrars.registry:REGISTRARS",
}


class UnknownProviderError(ValueError):
    """A name no registration of this kind has; the message lists the known ones."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}: use {_alternatives(known)}")
        self.kind = kind
        self.name = name
        self.known = known


def _alternatives(names: list[str]) -> str:
    if len(names) < 2:
        return names[0] if names else "none (none is registered)"
    return f"{', '.join(names[:-1])} or {names[-1]}"


@dataclass(frozen=True)
class Registration:
    name: str
    target: str  # "package.module:Factory"
    # Installation keys -> the Settings fields they replace. Credentials are secret (stored
    # encrypted, put in as SecretStr); config is not (account ids, tenant ids).
    credentials: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)

    @property
    def installable(self) -> bool:
        """Whether a customer's own account can stand in for the deployment's."""
        return bool(self.credentials)


class _PerSettingsCache:
    """Values cached per Settings object, dropped when that object is collected.

    Settings is a mutable pydantic model, so it is not hashable and cannot key a
    WeakKeyDictionary; entries are keyed by id() and hold a weak reference that both removes
    the entry when the object dies and guards against an id() reused by a newer object.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[Settings], dict[Hashable, Any]]] = {}
        # Reentrant: a weakref callback may run (garbage collection) while this thread holds it.
        self._lock = threading.RLock()

    def get_or_build(self, settings: Settings, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            values = self._values(settings)
            if key not in values:
                values[key] = build()
            return values[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _values(self, settings: Settings) -> dict[Hashable, Any]:
        ident = id(settings)
        entry = self._entries.get(ident)
        if entry is None or entry[0]() is not settings:
            ref = weakref.ref(settings, lambda dead: self._forget(ident, dead))
            entry = self._entries[ident] = (ref, {})
        return entry[1]

    def _forget(self, ident: int, dead: weakref.ref[Settings]) -> None:
        with self._lock:
            entry = self._entries.get(ident)
            if entry is not None and entry[0] is dead:
                del self._entries[ident]


class ProviderRegistry(Generic[P]):
    """The implementations of one Protocol, by name."""

    def __init__(
        self,
        kind: str,
        label: str,
        *,
        default: Callable[[Settings], str] | None = None,
        error: Callable[[UnknownProviderError], Exception] | None = None,
    ) -> None:
        self.kind = kind  # as installations store it: "dns", "mailbox"
        self.label = label  # as messages say it: "DNS provider"
        # The deployment-wide choice where the kind has one (DNS: MAILFLEET_DNS_PROVIDER);
        # mailbox providers have none: the backend per mailbox type names one.
        self.default = default
        # Lets a kind raise its own error type for an unknown name (the mailbox job fails a
        # mailbox permanently on a MailboxProviderError); the message stays the same.
        self._error = error
        self._registrations: dict[str, Registration] = {}
        self._cache = _PerSettingsCache()

    def register(
        self,
        name: str,
        target: str,
        *,
        credentials: Mapping[str, str] | None = None,
        config: Mapping[str, str] | None = None,
    ) -> None:
        fields = {**(credentials or {}), **(config or {})}
        unknown = sorted(set(fields.values()) - set(Settings.model_fields))
        if unknown:
            raise ValueError(f"{name}: not Settings fields: {', '.join(unknown)}")
        # A credential is put in as SecretStr, so the field it replaces must be one.
        plain = [f for f in (credentials or {}).values() if not _is_secret(f)]
        if plain:
            raise ValueError(f"{name}: credentials must be SecretStr settings: {plain}")
        self._registrations[name] = Registration(
            name, target, dict(credentials or {}), dict(config or {})
        )

    @property
    def names(self) -> list[str]:
        return sorted(self._registrations)

    def find(self, name: str) -> Registration | None:
        return self._registrations.get(name)

    def registration(self, name: str) -> Registration:
        """The registration of `name`; an unknown name raises, listing the known ones."""
        found = self._registrations.get(name)
        if found is None:
            error = UnknownProviderError(self.label, name, self.names)
            raise self._error(error) if self._error else error
        return found

    def get(self, settings: Settings, name: str) -> P:
        """The provider `name` built from `settings`, built once per Settings object."""
        return cast(
            P, self._cache.get_or_build(settings, (name, None), lambda: self.build(settings, name))
        )

    def get_installed(
        self,
        settings: Settings,
        name: str,
        *,
        cache_key: Hashable,
        load: Callable[[], tuple[Mapping[str, str], Mapping[str, str]]],
    ) -> P:
        """The provider `name` acting on a customer's own account: the deployment's settings
        with the account's credentials and config in place of the deployment's.

        `cache_key` names the account and its version (an installation's id and update time),
        so a changed installation is built afresh; `load` gives its (credentials, config) and
        is called only to build, so cached providers cost no decryption.
        """
        registration = self.registration(name)

        def build() -> P:
            credentials, config = load()
            return self.build(account_settings(registration, settings, credentials, config), name)

        return cast(P, self._cache.get_or_build(settings, (name, cache_key), build))

    def clear(self) -> None:
        """Forget built providers (settings changed, or a test swapped an implementation)."""
        self._cache.clear()

    def build(self, settings: Settings, name: str) -> P:
        """A new provider, uncached (tests replace this to hand out a fake)."""
        module_name, _, attribute = self.registration(name).target.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
        return cast(P, factory(settings))


def account_settings(
    registration: Registration,
    settings: Settings,
    credentials: Mapping[str, str],
    config: Mapping[str, str],
) -> Settings:
    """`settings` with one account's values in place of the deployment's.

    Only the keys the registration declares are taken (an installation cannot move the
    provider's endpoints or anything else); secrets go in as SecretStr like the settings' own.
    """
    update: dict[str, object] = {}
    for key, value in credentials.items():
        if key in registration.credentials:
            update[registration.credentials[key]] = SecretStr(value)
    for key, value in config.items():
        if key in registration.config:
            update[registration.config[key]] = value
    return settings.model_copy(update=update)


def _is_secret(field_name: str) -> bool:
    return Settings.model_fields[field_name].annotation is SecretStr


def registry_for(kind: str) -> ProviderRegistry[Any]:
    """The registry of a kind by its name ("dns", "mailbox"), importing it on first use."""
    target = KIND_MODULES.get(kind)
    if target is None:
        raise UnknownProviderError("provider kind", kind, sorted(KIND_MODULES))
    module_name, _, attribute = target.partition(":")
    registry = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(registry, ProviderRegistry):
        raise TypeError(f"{target} is not a ProviderRegistry")
    return registry
