"""The provider registry every kind of provider is chosen through (mailfleet.kit.providers)."""

from __future__ import annotations

import gc

import pytest
from pydantic import SecretStr

from mailfleet.config import Settings
from mailfleet.dns.providers.registry import provider_for
from mailfleet.kit.providers import ProviderRegistry, UnknownProviderError, registry_for
from mailfleet.mailboxes.providers.base import MailboxProviderError
from mailfleet.mailboxes.providers.registry import provider_for as mailbox_provider_for


class Recorder:
    """A provider that remembers what it was built from."""

    name = "recorder"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


def recorders() -> ProviderRegistry[Recorder]:
    registry: ProviderRegistry[Recorder] = ProviderRegistry("test", "test provider")
    registry.register(
        "recorder",
        "tests.kit.test_providers:Recorder",
        credentials={"api_key": "powerdns_api_key"},
        config={"server_id": "powerdns_server_id"},
    )
    return registry


def test_a_provider_is_built_once_per_settings_object() -> None:
    registry = recorders()
    settings, other = Settings(), Settings()

    first = registry.get(settings, "recorder")

    assert registry.get(settings, "recorder") is first
    assert first.settings is settings
    assert registry.get(other, "recorder").settings is other


def test_settings_created_and_dropped_in_turn_never_get_each_others_providers() -> None:
    # CPython reuses a freed object's id() at once: a cache keyed by id() alone would hand the
    # second Settings the first one's provider.
    registry = recorders()
    for port in range(50):
        settings = Settings(powerdns_server_id=f"s{port}")
        assert registry.get(settings, "recorder").settings is settings
        del settings
        # The young generations only: a full collection over the whole suite's heap takes
        # seconds each, and a freshly made Settings is young.
        gc.collect(1)


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownProviderError) as caught:
        provider_for(Settings(), "route53")
    assert str(caught.value) == (
        "unknown DNS provider 'route53': use builtin, cloudflare or powerdns"
    )
    # The mailbox kind's own error: the provisioning job fails such mailboxes for good.
    with pytest.raises(MailboxProviderError) as refused:
        mailbox_provider_for(Settings(), "manual")
    assert not refused.value.retryable
    assert "google, microsoft, smtp" in str(refused.value)


def test_an_account_replaces_only_the_declared_settings() -> None:
    registry = recorders()
    base = Settings(powerdns_api_key="deployment", powerdns_api_url="http://deployment")

    built = registry.get_installed(
        base,
        "recorder",
        cache_key=("account", 1),
        load=lambda: ({"api_key": "customer-key-42"}, {"server_id": "theirs"}),
    )

    assert built.settings.powerdns_api_key == SecretStr("customer-key-42")
    assert built.settings.powerdns_server_id == "theirs"
    assert built.settings.powerdns_api_url == "http://deployment"
    assert "customer-key-42" not in repr(built.settings)
    assert base.powerdns_api_key.get_secret_value() == "deployment"
    # A new version of the account is built afresh; the same one is not loaded again.
    same = registry.get_installed(base, "recorder", cache_key=("account", 1), load=_never)
    assert same is built
    assert registry.get(base, "recorder") is not built


def _never() -> tuple[dict[str, str], dict[str, str]]:
    raise AssertionError("a cached account must not be loaded (decrypted) again")


def test_registrations_are_checked_against_the_settings() -> None:
    registry = recorders()
    with pytest.raises(ValueError, match="not Settings fields"):
        registry.register("x", "m:X", config={"region": "no_such_setting"})
    # A credential goes in as SecretStr, so it may only replace a secret setting.
    with pytest.raises(ValueError, match="SecretStr"):
        registry.register("x", "m:X", credentials={"url": "powerdns_api_url"})


def test_kinds_are_found_by_name() -> None:
    assert registry_for("dns").kind == "dns"
    assert registry_for("mailbox").kind == "mailbox"
    assert registry_for("payments").kind == "payments"
    assert registry_for("registrar").kind == "registrar"
    with pytest.raises(UnknownProviderError, match=r"use dns, .*payments.*registrar"):
        registry_for("telepathy")
