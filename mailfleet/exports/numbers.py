"""Export jobs by number and accounts by page, for APIs that name them that way (the Zapmail
surface: integer export ids, page-numbered account lists). The caller commits.

A job's number is its rank among its workspace's jobs in creation order (ids are time-ordered
uuid7s), from 1. Jobs are never deleted, and a workspace's jobs are created one at a time (its
row is locked first, `service.create`), so a number, once answered, keeps naming the same job.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import scoped
from mailfleet.exports import accounts
from mailfleet.exports import service as export_service
from mailfleet.exports.apps import registry
from mailfleet.exports.errors import ExportAccountRequired, ExportNotFound, InvalidExportAccount
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.pagination import numbered_page
from mailfleet.models import ExportAccount, ExportApp, ExportJob


def number_of(session: Session, workspace_id: uuid.UUID, export_id: uuid.UUID) -> int:
    """The job's number in its workspace: how many of the workspace's jobs are not newer."""
    statement = (
        select(func.count())
        .select_from(ExportJob)
        .where(ExportJob.workspace_id == workspace_id, ExportJob.id <= export_id)
    )
    return int(session.scalar(statement) or 0)


def get_by_number(session: Session, workspace_id: uuid.UUID, number: int) -> export_service.JobView:
    """The workspace's job numbered `number`; 404 export_not_found past the last one."""
    statement = scoped(ExportJob, workspace_id).order_by(ExportJob.id).offset(number - 1).limit(1)
    found: ExportJob | None = session.scalars(statement).first() if number >= 1 else None
    if found is None:
        raise ExportNotFound(f"Export {number} not found.")
    return export_service.get(session, workspace_id, found.id)


def accounts_page(
    session: Session,
    box: SecretBox,
    workspace_id: uuid.UUID,
    *,
    app: ExportApp,
    page: int,
    limit: int,
) -> tuple[list[accounts.AccountView], int]:
    """Page `page` of the workspace's accounts for `app`, oldest first, and how many in all."""
    statement = (
        scoped(ExportAccount, workspace_id)
        .where(ExportAccount.app == app)
        .order_by(ExportAccount.id)
    )
    rows, total = numbered_page(session, statement, page=page, limit=limit)
    return [accounts.view(row, box) for row in rows], total


def resolve_account(
    session: Session,
    workspace_id: uuid.UUID,
    app: ExportApp,
    account_id: uuid.UUID | None,
    *,
    field: str,
) -> ExportAccount:
    """The account named, else the workspace's only account for `app` (rule: with several,
    the caller must name one). Errors name `field`, the caller's own name for the account."""
    if account_id is not None:
        row = accounts.get_row(session, workspace_id, account_id)
        if row.app != app:
            raise InvalidExportAccount(
                f"Account {account_id} is a {row.app.value} account, not {app.value}.",
                field=field,
            )
        return row
    found = accounts.accounts_for(session, workspace_id, app)
    if not found:
        raise ExportAccountRequired(f"The workspace has no {app.value} account.", field=field)
    if len(found) > 1:
        raise ExportAccountRequired(
            f"The workspace has several {app.value} accounts: name one as {field}.", field=field
        )
    return found[0]


# The apps by name, for surfaces that may not name the models (their vocabulary, not a table).
App = ExportApp
APPS: tuple[str, ...] = tuple(app.value for app in ExportApp)


def app_named(name: str) -> ExportApp | None:
    """The app called `name` (any case, spaces trimmed), or None."""
    try:
        return ExportApp(name.strip().upper())
    except ValueError:
        return None


def signs_in_with_login(app: ExportApp) -> bool:
    """Whether the app's account may be an email and password (else it takes an API key)."""
    return frozenset({"email", "password"}) in registry.DEFAULT_CREDENTIALS[app]
