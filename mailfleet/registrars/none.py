"""The embedded default: no registrar. Domains are bought elsewhere and connected."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mailfleet.config import Settings
from mailfleet.registrars.protocol import (
    Availability,
    Contact,
    RegistrarNotConfigured,
    Registration,
    RenewalResult,
)

MESSAGE = (
    "This deployment sells no domains (MAILFLEET_REGISTRAR=none): buy them at a registrar "
    "and submit them to connect them."
)


class NoRegistrar:
    name = "none"
    max_years = 10

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, names: Sequence[str]) -> list[Availability]:
        raise RegistrarNotConfigured(MESSAGE)

    def register(
        self,
        name: str,
        *,
        years: int,
        cost_cents: int,
        nameservers: Sequence[str],
        idempotency_key: str,
        contact: Contact | None = None,
        attempt: int = 1,
    ) -> Registration:
        raise RegistrarNotConfigured(MESSAGE)

    def renew(self, name: str, years: int) -> RenewalResult:
        raise RegistrarNotConfigured(MESSAGE)

    def expiry(self, name: str) -> datetime | None:
        raise RegistrarNotConfigured(MESSAGE)
