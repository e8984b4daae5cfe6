"""Secrets in settings are SecretStr: no repr, str, log line or dump shows them, and the code
that needs them still gets them."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from mailfleet.config import Settings
from mailfleet.dns.providers.base import Zone
from mailfleet.dns.providers.powerdns import PowerDnsProvider
from mailfleet.kit.crypto import SecretBox

KEY_1, KEY_2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRETS = {
    "MAILFLEET_DATABASE_URL": "postgresql+psycopg://mailfleet:db-pass-7f3a@db.internal/mf",
    "MAILFLEET_REDIS_URL": "redis://:redis-pass-91c2@cache.internal:6379/0",
    "MAILFLEET_ENCRYPTION_KEYS": f"{KEY_1},{KEY_2}",
    "MAILFLEET_POWERDNS_API_KEY": "pdns-key-5b8e",
    "MAILFLEET_CLOUDFLARE_API_TOKEN": "cf-token-c0ffee",
    "MAILFLEET_GOOGLE_SERVICE_ACCOUNT_JSON": '{"private_key": "google-pk-d00d"}',
    "MAILFLEET_MICROSOFT_CLIENT_SECRET": "ms-secret-beef",
}
# What must never be shown: each value, and the passwords inside the URLs.
NEVER_SHOWN = [*SECRETS.values(), KEY_1, KEY_2, "db-pass-7f3a", "redis-pass-91c2", "google-pk-d00d"]


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_no_rendering_of_the_settings_shows_a_secret(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("mailfleet.test").info("settings: %s / %r", settings, settings)
    shown = [
        repr(settings),
        str(settings),
        caplog.text,
        settings.model_dump_json(),
        str(settings.model_dump()),
    ]
    for text in shown:
        for secret in NEVER_SHOWN:
            assert secret not in text


def test_the_code_that_needs_the_secrets_gets_them(settings: Settings) -> None:
    assert settings.resolved_database_url == SECRETS["MAILFLEET_DATABASE_URL"]
    assert not settings.is_sqlite
    assert settings.redis_url.get_secret_value() == SECRETS["MAILFLEET_REDIS_URL"]
    # Both keys, newest first: the first encrypts, either decrypts.
    box = SecretBox.from_settings(settings)
    assert Fernet(KEY_1.encode()).decrypt(box.encrypt("x").encode()) == b"x"
    old = Fernet(KEY_2.encode()).encrypt(b"rotated").decode()
    assert box.decrypt(old) == "rotated"


def test_a_provider_still_sends_its_secret(settings: Settings) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["X-API-Key"])
        return httpx.Response(404, json={"error": "Not Found"})

    provider = PowerDnsProvider(settings, transport=httpx.MockTransport(answer))
    with provider:
        # A zone already gone (404) is not an error: the call went out with the key.
        provider.delete_zone(Zone("acme.test.", ("ns1.x.test", "ns2.x.test")), "acme.test")

    assert seen
    assert set(seen) == {"pdns-key-5b8e"}


def test_the_sqlite_default_needs_no_url(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.is_sqlite
