"""Create, list, get and delete a workspace's provider installations. The caller commits.

Credentials are one JSON object encrypted with the deployment's SecretBox; nothing here returns
them (only which keys are set). Zones and mailboxes remember the installation they were made at
(mailfleet.integrations.resolve), so one still in use by a live domain or mailbox cannot be
deleted. Config holds what is not secret (account and tenant ids). Which
keys a provider takes is its registration's (mailfleet.kit.providers), so a new provider kind
needs nothing here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import scoped
from mailfleet.integrations.errors import (
    InstallationExists,
    InstallationInUse,
    InstallationNotFound,
    InvalidInstallation,
    ProviderNotInstallable,
    UnknownProvider,
    UnknownProviderKind,
)
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.providers import KIND_MODULES, Registration, registry_for
from mailfleet.models import Domain, DomainStatus, Mailbox, MailboxStatus, ProviderInstallation

MAX_LABEL = 200
MAX_VALUE = 20_000  # a Google service account key is some 2.3 kB


@dataclass(frozen=True)
class Installation:
    """An installation as its owners may see it: everything but the credentials' values."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    kind: str
    provider: str
    label: str
    config: dict[str, str]
    credential_keys: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


def create(
    session: Session,
    box: SecretBox,
    workspace_id: uuid.UUID,
    *,
    kind: str,
    provider: str,
    label: str,
    credentials: Mapping[str, str],
    config: Mapping[str, str] | None = None,
) -> Installation:
    registration = _registration(kind, provider)
    values = _credentials(registration, credentials)
    settings_config = _config(registration, config or {})
    if _find(session, workspace_id, kind, provider) is not None:
        raise InstallationExists(
            f"This workspace already has a {provider} {kind} installation; delete it first.",
            field="provider",
        )
    row = ProviderInstallation(
        workspace_id=workspace_id,
        kind=kind,
        provider=provider,
        label=_label(label),
        credentials_enc=box.encrypt(json.dumps(values, sort_keys=True)),
        config=settings_config,
    )
    session.add(row)
    session.flush()
    return view(row, box)


def list_installations(
    session: Session, box: SecretBox, workspace_id: uuid.UUID, *, kind: str | None = None
) -> list[Installation]:
    statement = scoped(ProviderInstallation, workspace_id)
    if kind is not None:
        statement = statement.where(ProviderInstallation.kind == kind)
    rows = session.scalars(statement.order_by(ProviderInstallation.id))
    return [view(row, box) for row in rows]


def get(
    session: Session, box: SecretBox, workspace_id: uuid.UUID, installation_id: uuid.UUID
) -> Installation:
    return view(_get(session, workspace_id, installation_id), box)


# Rows past needing their provider: a removed domain, a mailbox failed or removed. They let go
# of the installation when it is deleted (their bindings are cleared) instead of blocking it.
DONE_DOMAINS = (DomainStatus.REMOVED,)
DONE_MAILBOXES = (MailboxStatus.FAILED, MailboxStatus.REMOVED)


@dataclass(frozen=True)
class Usage:
    """How many live domains and mailboxes were made at an installation."""

    domains: int
    mailboxes: int

    @property
    def in_use(self) -> bool:
        return bool(self.domains or self.mailboxes)


def usage(session: Session, installation_id: uuid.UUID) -> Usage:
    """Live domains and mailboxes made at the installation, and removed ones not yet deleted
    at its provider (`next_check_at` still set): their deletion needs its account."""
    domains = session.scalar(
        select(func.count())
        .select_from(Domain)
        .where(
            Domain.dns_installation_id == installation_id,
            or_(Domain.status.not_in(DONE_DOMAINS), Domain.next_check_at.is_not(None)),
        )
    )
    mailboxes = session.scalar(
        select(func.count())
        .select_from(Mailbox)
        .where(
            Mailbox.installation_id == installation_id,
            or_(
                Mailbox.status.not_in(DONE_MAILBOXES),
                and_(Mailbox.status == MailboxStatus.REMOVED, Mailbox.next_check_at.is_not(None)),
            ),
        )
    )
    return Usage(domains or 0, mailboxes or 0)


def delete(session: Session, workspace_id: uuid.UUID, installation_id: uuid.UUID) -> None:
    """Unbind it: the workspace's new zones and mailboxes go to the deployment's default from
    then on. Refused (409 installation_in_use) while a live domain or mailbox was made at it."""
    row = _get(session, workspace_id, installation_id)
    found = usage(session, row.id)
    if found.in_use:
        raise _in_use(row, found)
    session.execute(
        update(Domain).where(Domain.dns_installation_id == row.id).values(dns_installation_id=None)
    )
    session.execute(
        update(Mailbox).where(Mailbox.installation_id == row.id).values(installation_id=None)
    )
    name = f"{row.provider} installation {row.id}"
    session.delete(row)
    try:
        session.flush()
    except IntegrityError as exc:
        # A zone or mailbox bound to it between the count and the delete: the key refused it
        # (the transaction is spoilt, so it is not counted again).
        raise InstallationInUse(
            f"The {name} was just put to use; try again.",
            domains=found.domains,
            mailboxes=found.mailboxes,
        ) from exc


def _in_use(row: ProviderInstallation, found: Usage) -> InstallationInUse:
    return InstallationInUse(
        f"The {row.provider} installation {row.id} is in use by {_count(found.domains, 'domain')} "
        f"and {_count(found.mailboxes, 'mailbox', 'mailboxes')} made at it; remove them first "
        "(their later provider calls must reach the same account).",
        domains=found.domains,
        mailboxes=found.mailboxes,
    )


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def view(row: ProviderInstallation, box: SecretBox) -> Installation:
    return Installation(
        id=row.id,
        workspace_id=row.workspace_id,
        kind=row.kind,
        provider=row.provider,
        label=row.label,
        config=dict(row.config),
        credential_keys=tuple(sorted(credentials_of(row, box))),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def credentials_of(row: ProviderInstallation, box: SecretBox) -> dict[str, str]:
    return decrypt_credentials(box, row.credentials_enc)


def decrypt_credentials(box: SecretBox, token: str) -> dict[str, str]:
    """The credentials, for building the provider (mailfleet.integrations.resolve) only."""
    values: dict[str, str] = json.loads(box.decrypt(token))
    return values


def _registration(kind: str, provider: str) -> Registration:
    if kind not in KIND_MODULES:
        raise UnknownProviderKind(
            f"Unknown provider kind {kind!r}: use {', '.join(sorted(KIND_MODULES))}.",
            field="kind",
        )
    registry = registry_for(kind)
    registration = registry.find(provider)
    if registration is None:
        raise UnknownProvider(
            f"Unknown {registry.label} {provider!r}: use {', '.join(registry.names)}.",
            field="provider",
        )
    if not registration.installable:
        installable = [n for n in registry.names if (r := registry.find(n)) and r.installable]
        raise ProviderNotInstallable(
            f"The {provider} {registry.label} has no customer account to install; "
            f"installable: {', '.join(installable) or 'none'}.",
            field="provider",
        )
    return registration


def _credentials(registration: Registration, given: Mapping[str, str]) -> dict[str, str]:
    wanted = set(registration.credentials)
    unknown = sorted(set(given) - wanted)
    if unknown:
        raise InvalidInstallation(
            f"{registration.name} takes the credentials {', '.join(sorted(wanted))}, "
            f"not {', '.join(unknown)}.",
            field="credentials",
        )
    missing = sorted(key for key in wanted if not str(given.get(key) or "").strip())
    if missing:
        raise InvalidInstallation(
            f"{registration.name} needs the credentials {', '.join(missing)}.",
            field="credentials",
        )
    return {key: _value(key, given[key], "credentials") for key in sorted(wanted)}


def _config(registration: Registration, given: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(given) - set(registration.config))
    if unknown:
        raise InvalidInstallation(
            f"{registration.name} takes the config keys "
            f"{', '.join(sorted(registration.config)) or 'none'}, not {', '.join(unknown)}.",
            field="config",
        )
    return {key: _value(key, value, "config") for key, value in sorted(given.items())}


def _value(key: str, value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise InvalidInstallation(
            f"{field}.{key} must be text of at most {MAX_VALUE} characters.", field=field
        )
    return value.strip()


def _label(label: str) -> str:
    cleaned = label.strip()
    if not 1 <= len(cleaned) <= MAX_LABEL or not cleaned.isprintable():
        raise InvalidInstallation(
            f"The label must be 1 to {MAX_LABEL} printable characters.", field="label"
        )
    return cleaned


def _find(
    session: Session, workspace_id: uuid.UUID, kind: str, provider: str
) -> ProviderInstallation | None:
    statement = scoped(ProviderInstallation, workspace_id).where(
        ProviderInstallation.kind == kind, ProviderInstallation.provider == provider
    )
    found: ProviderInstallation | None = session.scalars(statement).first()
    return found


def _get(
    session: Session, workspace_id: uuid.UUID, installation_id: uuid.UUID
) -> ProviderInstallation:
    statement = scoped(ProviderInstallation, workspace_id).where(
        ProviderInstallation.id == installation_id
    )
    found: ProviderInstallation | None = session.scalars(statement).first()
    if found is None:
        raise InstallationNotFound(f"Provider installation {installation_id} not found.")
    return found
