"""The embedded default: no registrar. Domains are bought elsewhere and connected."""

from __future__ import annotations

from collections.abc import Sequence

from mailfleet.config import Settings
from mailfleet.registrars.protocol import Availability, RegistrarNotConfigured

MESSAGE = (
    "This deployment sells no domains (MAILFLEET_REGISTRAR=none): buy them at a registrar "
    "and submit them to connect them."
)


class NoRegistrar:
    name = "none"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, names: Sequence[str]) -> list[Availability]:
        raise RegistrarNotConfigured(MESSAGE)
