"""A workspace's accounts at sequencers: create, list, get, update, delete, test, and the
app's own workspaces or clients. The caller commits.

Credentials are one JSON object encrypted with the deployment's SecretBox; nothing here returns
their values, only which keys are set. The test and the workspace list call the app outside
any transaction: the endpoint reads the account, and the call happens after.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from mailfleet.auth.scoping import scoped
from mailfleet.config import Settings
from mailfleet.exports.apps import registry
from mailfleet.exports.apps.protocol import (
    AppAccount,
    AppError,
    Check,
    NoWorkspaces,
    RemoteWorkspace,
)
from mailfleet.exports.errors import (
    ExportAccountNotFound,
    ExportAppError,
    ExportAppNotSupported,
    InvalidExportAccount,
)
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import ExportAccount, ExportApp

MAX_LABEL = 200
MAX_VALUE = 2000
MAX_URL = 2048


@dataclass(frozen=True)
class AccountView:
    """An account as its workspace sees it: everything but the credentials' values."""

    id: uuid.UUID
    app: ExportApp
    label: str
    instance_url: str | None
    config: dict[str, str]
    credential_keys: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


def view(row: ExportAccount, box: SecretBox) -> AccountView:
    return AccountView(
        id=row.id,
        app=row.app,
        label=row.label,
        instance_url=row.instance_url,
        config=dict(row.config),
        credential_keys=tuple(sorted(decrypt(box, row))),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def decrypt(box: SecretBox, row: ExportAccount) -> dict[str, str]:
    values: dict[str, str] = json.loads(box.decrypt(row.credentials_enc))
    return values


def app_account(box: SecretBox, row: ExportAccount) -> AppAccount:
    return AppAccount(decrypt(box, row), row.instance_url, dict(row.config))


def create(
    session: Session,
    box: SecretBox,
    workspace_id: uuid.UUID,
    *,
    app: ExportApp,
    label: str,
    credentials: Mapping[str, Any],
    instance_url: str | None,
    config: Mapping[str, Any],
) -> AccountView:
    row = ExportAccount(
        workspace_id=workspace_id,
        app=app,
        label=_label(label),
        credentials_enc=box.encrypt(json.dumps(_credentials(app, credentials), sort_keys=True)),
        instance_url=_instance_url(app, instance_url),
        config=_config(app, config),
    )
    session.add(row)
    session.flush()
    return view(row, box)


def list_accounts(
    session: Session,
    box: SecretBox,
    workspace_id: uuid.UUID,
    *,
    app: ExportApp | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AccountView], str | None]:
    statement = scoped(ExportAccount, workspace_id)
    if app is not None:
        statement = statement.where(ExportAccount.app == app)
    rows = session.scalars(paginate(statement, ExportAccount.id, cursor, limit)).all()
    page, next_cursor = split_page(rows, limit, lambda row: row.id)
    return [view(row, box) for row in page], next_cursor


def get_row(
    session: Session, workspace_id: uuid.UUID, account_id: uuid.UUID, *, for_update: bool = False
) -> ExportAccount:
    statement = scoped(ExportAccount, workspace_id).where(ExportAccount.id == account_id)
    if for_update:
        statement = statement.with_for_update()
    found: ExportAccount | None = session.scalars(statement).first()
    if found is None:
        raise ExportAccountNotFound(f"Export account {account_id} not found.")
    return found


def accounts_for(
    session: Session, workspace_id: uuid.UUID, app: ExportApp
) -> Sequence[ExportAccount]:
    statement = scoped(ExportAccount, workspace_id).where(ExportAccount.app == app)
    return session.scalars(statement.order_by(ExportAccount.id).limit(2)).all()


def update(
    session: Session,
    box: SecretBox,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> AccountView:
    """Change the label, credentials (all of them: a new set), instance URL or ids."""
    row = get_row(session, workspace_id, account_id, for_update=True)
    if changes.get("label") is not None:
        row.label = _label(changes["label"])
    if changes.get("credentials") is not None:
        values = _credentials(row.app, changes["credentials"])
        row.credentials_enc = box.encrypt(json.dumps(values, sort_keys=True))
    if "instance_url" in changes:
        row.instance_url = _instance_url(row.app, changes["instance_url"])
    if changes.get("config") is not None:
        row.config = _config(row.app, changes["config"])
    row.updated_at = clock.now()
    session.flush()
    return view(row, box)


def delete(session: Session, workspace_id: uuid.UUID, account_id: uuid.UUID) -> uuid.UUID:
    """Past exports keep their results; they no longer name the account."""
    row = get_row(session, workspace_id, account_id, for_update=True)
    session.delete(row)
    session.flush()
    return account_id


def check(settings: Settings, app: ExportApp, account: AppAccount) -> Check:
    """A cheap authenticated call; a refusal or an unreachable app is `ok: false`, not an error."""
    sequencer = registry.sequencer_for(settings, app)
    if sequencer is None:
        raise ExportAppNotSupported(f"No API client for {app.value} yet; its CSV export works.")
    connection = sequencer.connect(account)
    try:
        return connection.check()
    except AppError as exc:
        return Check(False, exc.message)
    finally:
        connection.close()


def remote_workspaces(
    settings: Settings, app: ExportApp, account: AppAccount
) -> list[RemoteWorkspace]:
    sequencer = registry.sequencer_for(settings, app)
    if sequencer is None:
        raise ExportAppNotSupported(f"No API client for {app.value} yet.")
    connection = sequencer.connect(account)
    try:
        return connection.workspaces()
    except NoWorkspaces as exc:
        raise ExportAppNotSupported(f"{app.value} has no workspaces or clients to list.") from exc
    except AppError as exc:
        raise ExportAppError(f"{app.value} answered: {exc.message}") from exc
    finally:
        connection.close()


def _credential_sets(app: ExportApp) -> tuple[frozenset[str], ...]:
    return registry.DEFAULT_CREDENTIALS[app]


def _credentials(app: ExportApp, given: Mapping[str, Any]) -> dict[str, str]:
    keys = frozenset(key for key, value in given.items() if value is not None)
    sets = _credential_sets(app)
    if keys not in sets:
        wanted = " or ".join("{" + ", ".join(sorted(s)) + "}" for s in sets)
        raise InvalidExportAccount(
            f"{app.value} takes the credentials {wanted}, not {{{', '.join(sorted(keys))}}}.",
            field="credentials",
        )
    return {key: _value(f"credentials.{key}", given[key]) for key in sorted(keys)}


def _config(app: ExportApp, given: Mapping[str, Any]) -> dict[str, str]:
    allowed = registry.CONFIG_KEYS.get(app, frozenset())
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise InvalidExportAccount(
            f"{app.value} takes the ids {', '.join(sorted(allowed)) or 'none'}, "
            f"not {', '.join(unknown)}.",
            field="config",
        )
    return {key: _value(f"config.{key}", value) for key, value in sorted(given.items())}


def _value(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE:
        raise InvalidExportAccount(
            f"{field} must be text of 1 to {MAX_VALUE} characters.", field=field.split(".")[0]
        )
    return value.strip()


def _label(label: str) -> str:
    cleaned = label.strip()
    if not 1 <= len(cleaned) <= MAX_LABEL or not cleaned.isprintable():
        raise InvalidExportAccount(
            f"The label must be 1 to {MAX_LABEL} printable characters.", field="label"
        )
    return cleaned


def _instance_url(app: ExportApp, url: str | None) -> str | None:
    if app not in registry.NEEDS_INSTANCE_URL:
        if url:
            raise InvalidExportAccount(f"{app.value} takes no instance_url.", field="instance_url")
        return None
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url or "") > MAX_URL:
        raise InvalidExportAccount(
            f"{app.value} needs instance_url, the http(s) URL of its instance.",
            field="instance_url",
        )
    return (url or "").rstrip("/")
