"""The errors of provider installations, each with its HTTP status and stable code."""

from __future__ import annotations

from mailfleet.exceptions import Conflict, NotFound, Unprocessable


class UnknownProviderKind(Unprocessable):
    code = "unknown_provider_kind"


class UnknownProvider(Unprocessable):
    code = "unknown_provider"


class ProviderNotInstallable(Unprocessable):
    """The provider has no customer account to bind (builtin DNS, Mailfleet's own Postfix)."""

    code = "provider_not_installable"


class InvalidInstallation(Unprocessable):
    """A credential missing, or a credential or config key the provider does not take."""

    code = "invalid_installation"


class InstallationExists(Conflict):
    code = "installation_exists"


class InstallationNotFound(NotFound):
    code = "provider_installation_not_found"


class InstallationInUse(Conflict):
    """Zones or mailboxes made at the installation still need it: their later calls go there."""

    code = "installation_in_use"

    def __init__(self, detail: str, *, domains: int, mailboxes: int) -> None:
        super().__init__(detail)
        self.domains = domains
        self.mailboxes = mailboxes
