"""Which provider acts for a workspace: its own installation if one is bound, else the
deployment-wide default from settings.

A new zone or mailbox is resolved with `binding_for` and the installation it chose is stored on
the row (`domains.dns_installation_id`, `mailboxes.installation_id`); every later call for that
row resolves by the stored id (`provider_by_id`), so an installation added later never steers
calls for a zone or mailbox made at another account.

Resolution only reads (one indexed row); building or calling the provider happens outside any
write transaction, as every provider call must. Providers built from an installation are cached
like the settings' own (mailfleet.kit.providers), per installation and version: a changed
installation is built afresh, an unchanged one is not decrypted again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from mailfleet.auth.scoping import scoped
from mailfleet.config import Settings
from mailfleet.integrations.errors import InstallationNotFound
from mailfleet.integrations.service import decrypt_credentials
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.providers import ProviderRegistry
from mailfleet.models import ProviderInstallation

P = TypeVar("P")


@dataclass(frozen=True)
class Binding:
    """What resolution chose: a provider name, and the installation or None for the default."""

    kind: str
    provider: str
    installation: ProviderInstallation | None

    @property
    def installation_id(self) -> uuid.UUID | None:
        return self.installation.id if self.installation else None


def binding_for(
    session: Session,
    settings: Settings,
    registry: ProviderRegistry[P],
    workspace_id: uuid.UUID,
    provider: str | None = None,
) -> Binding:
    """The binding of `registry`'s kind for the workspace.

    With `provider` (a mailbox type's backend, or the provider an existing zone was created
    at): the workspace's installation of that provider, else the deployment's. Without (a new
    DNS zone): the workspace's installation of the kind (the newest if it bound several), else
    the kind's default from settings.
    """
    statement = scoped(ProviderInstallation, workspace_id).where(
        ProviderInstallation.kind == registry.kind
    )
    if provider is not None:
        statement = statement.where(ProviderInstallation.provider == provider)
    # Ids are UUIDv7, in creation order.
    newest = statement.order_by(ProviderInstallation.id.desc())
    installation: ProviderInstallation | None = session.scalars(newest.limit(1)).first()
    if installation is not None:
        return Binding(registry.kind, installation.provider, installation)
    if provider is None:
        if registry.default is None:
            raise ValueError(f"{registry.label}s have no default: name the provider")
        provider = registry.default(settings)
    return Binding(registry.kind, provider, None)


def provider_of(
    settings: Settings, box: SecretBox, registry: ProviderRegistry[P], binding: Binding
) -> P:
    """The provider a binding names, built (once) from settings or from its installation."""
    installation = binding.installation
    if installation is None:
        return registry.get(settings, binding.provider)
    # The version is part of the key: changed credentials must not reuse the old client.
    key = (installation.id, installation.updated_at)
    # Read now: the row may be detached (its session closed) by the time the provider is built.
    token, config = installation.credentials_enc, dict(installation.config)

    def load() -> tuple[dict[str, str], dict[str, str]]:
        return decrypt_credentials(box, token), config

    return registry.get_installed(settings, binding.provider, cache_key=key, load=load)


def resolve(
    session: Session,
    settings: Settings,
    box: SecretBox,
    registry: ProviderRegistry[P],
    workspace_id: uuid.UUID,
    provider: str | None = None,
) -> P:
    """binding_for, then provider_of: the provider acting for this workspace."""
    binding = binding_for(session, settings, registry, workspace_id, provider)
    return provider_of(settings, box, registry, binding)


def binding_by_id(
    session: Session,
    registry: ProviderRegistry[P],
    workspace_id: uuid.UUID,
    provider: str,
    installation_id: uuid.UUID | None,
) -> Binding:
    """The binding a row recorded: its installation, or with None the deployment's `provider`.

    The installation is never replaced by another one: a row made at one account is never
    sent to another (deleting an installation in use is refused, so a missing one is a bug).
    """
    if installation_id is None:
        return Binding(registry.kind, provider, None)
    statement = scoped(ProviderInstallation, workspace_id).where(
        ProviderInstallation.id == installation_id
    )
    installation: ProviderInstallation | None = session.scalars(statement).first()
    if installation is None:
        raise InstallationNotFound(f"Provider installation {installation_id} not found.")
    return Binding(registry.kind, installation.provider, installation)


def provider_by_id(
    session: Session,
    settings: Settings,
    registry: ProviderRegistry[P],
    workspace_id: uuid.UUID,
    provider: str,
    installation_id: uuid.UUID | None,
) -> P:
    """binding_by_id, then provider_of: the provider acting for a row made earlier.

    The deployment's default costs no query and no key; the SecretBox is made only for an
    installation (and decrypts only when its provider is not cached yet).
    """
    binding = binding_by_id(session, registry, workspace_id, provider, installation_id)
    return built(settings, registry, binding)


def built(settings: Settings, registry: ProviderRegistry[P], binding: Binding) -> P:
    """provider_of, making the SecretBox only for an installation (none is read for the
    deployment's default): for a binding read in a transaction and built after it."""
    if binding.installation is None:
        return registry.get(settings, binding.provider)
    return provider_of(settings, SecretBox.from_settings(settings), registry, binding)
