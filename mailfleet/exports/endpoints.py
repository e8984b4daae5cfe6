"""Sequencer accounts (/v1/export-accounts) and export jobs (/v1/exports): ADMIN writes, any
member reads. Calls to an app (test, workspaces) happen after the account is read, with no
transaction held open for them."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from mailfleet.auth.dependencies import Admin, Editor, Viewer
from mailfleet.db import Database
from mailfleet.exports import accounts, csvfiles, history, schemas
from mailfleet.exports import service as export_service
from mailfleet.exports.apps.protocol import ExportSettings
from mailfleet.exports.selection import Filter, tagged_domains
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import NO_STORE, Limit, render, render_page
from mailfleet.kit.schemas import Deleted, Page
from mailfleet.mailboxes import service as mailbox_service
from mailfleet.models import ExportApp, ExportOutcome, MailboxType, Role

router = APIRouter(tags=["exports"])


@router.post(
    "/export-accounts",
    status_code=201,
    response_model=schemas.Account,
    openapi_extra=errors("invalid_export_account"),
)
def create_account(body: schemas.AccountCreate, ctx: Admin) -> Response:
    """Add an account at a sequencer; its credentials are stored encrypted and never shown."""
    created = accounts.create(
        ctx.session,
        ctx.secrets,
        ctx.workspace(Role.ADMIN),
        app=body.app,
        label=body.label,
        credentials=body.credentials.model_dump(exclude_none=True),
        instance_url=body.instance_url,
        config=body.config.model_dump(exclude_none=True),
    )
    return render(schemas.Account, created, status=201)


@router.get("/export-accounts", response_model=Page[schemas.Account])
def list_accounts(
    ctx: Viewer, app: ExportApp | None = None, cursor: CursorParam = None, limit: Limit = 50
) -> Response:
    """The workspace's sequencer accounts, newest first."""
    rows, next_cursor = accounts.list_accounts(
        ctx.session, ctx.secrets, ctx.workspace(), app=app, cursor=cursor, limit=limit
    )
    return render_page(schemas.Account, rows, next_cursor)


@router.get(
    "/export-accounts/{account_id}",
    response_model=schemas.Account,
    openapi_extra=errors("export_account_not_found"),
)
def get_account(account_id: uuid.UUID, ctx: Viewer) -> Response:
    row = accounts.get_row(ctx.session, ctx.workspace(), account_id)
    return render(schemas.Account, accounts.view(row, ctx.secrets))


@router.patch(
    "/export-accounts/{account_id}",
    response_model=schemas.Account,
    openapi_extra=errors("export_account_not_found", "invalid_export_account"),
)
def update_account(account_id: uuid.UUID, body: schemas.AccountUpdate, ctx: Admin) -> Response:
    """Change the label, the credentials (a whole new set), the instance URL or the ids."""
    changes = body.model_dump(exclude_unset=True)
    if body.credentials is not None:
        changes["credentials"] = body.credentials.model_dump(exclude_none=True)
    if body.config is not None:
        changes["config"] = body.config.model_dump(exclude_none=True)
    updated = accounts.update(
        ctx.session, ctx.secrets, ctx.workspace(Role.ADMIN), account_id, changes
    )
    return render(schemas.Account, updated)


@router.delete(
    "/export-accounts/{account_id}",
    response_model=Deleted,
    openapi_extra=errors("export_account_not_found"),
)
def delete_account(account_id: uuid.UUID, ctx: Admin) -> Response:
    """Delete the account; past exports keep their results."""
    deleted = accounts.delete(ctx.session, ctx.workspace(Role.ADMIN), account_id)
    return render(Deleted, {"id": deleted})


@router.post(
    "/export-accounts/{account_id}/test",
    response_model=schemas.AccountCheck,
    openapi_extra=errors("export_account_not_found", "export_app_not_supported"),
)
def test_account(account_id: uuid.UUID, ctx: Admin) -> Response:
    """A cheap authenticated call to the app: ok false (with the app's message) when the
    credentials do not work or the app cannot be reached."""
    row = accounts.get_row(ctx.session, ctx.workspace(Role.ADMIN), account_id)
    app, account = row.app, accounts.app_account(ctx.secrets, row)
    ctx.session.rollback()  # no transaction stays open while the app answers
    return render(schemas.AccountCheck, asdict(accounts.check(ctx.settings, app, account)))


@router.get(
    "/export-accounts/{account_id}/workspaces",
    response_model=schemas.RemoteWorkspaces,
    openapi_extra=errors(
        "export_account_not_found", "export_app_not_supported", "export_app_error"
    ),
)
def account_workspaces(account_id: uuid.UUID, ctx: Viewer) -> Response:
    """The workspaces or clients inside the app that the account can reach."""
    row = accounts.get_row(ctx.session, ctx.workspace(), account_id)
    app, account = row.app, accounts.app_account(ctx.secrets, row)
    ctx.session.rollback()
    found = accounts.remote_workspaces(ctx.settings, app, account)
    return render(schemas.RemoteWorkspaces, {"items": [asdict(w) for w in found]})


@router.post(
    "/exports",
    status_code=202,
    response_model=schemas.ExportCreated,
    openapi_extra=errors(
        "export_account_not_found",
        "invalid_export_account",
        "export_account_required",
        "export_app_not_supported",
        "no_mailbox_selected",
        "export_limit_reached",
    ),
)
def create_export(body: schemas.ExportCreate, ctx: Admin) -> Response:
    """Export mailboxes to an app; the worker does it. Mailboxes exported as often as the
    re-export limit allows are left out and listed in `refused` with when each frees up; when
    that is every exportable mailbox of the selection, the answer is 429 export_limit_reached."""
    where = body.filter or schemas.MailboxFilter()
    job = export_service.create(
        ctx.session,
        ctx.settings,
        ctx.workspace(Role.ADMIN),
        app=body.app,
        account_id=body.account_id,
        mailbox_ids=body.mailbox_ids,
        where=Filter(
            domain_id=where.domain_id,
            tag=where.tag,
            status=where.status,
            mailbox_type=where.type,
            text=where.text,
        ),
        exclude_ids=body.exclude_ids,
        export_settings=body.settings.model_dump(),
        actor=ctx.actor,
    )
    return render(schemas.ExportCreated, asdict(job), status=202)


@router.get("/exports", response_model=Page[schemas.Export])
def list_exports(ctx: Viewer, cursor: CursorParam = None, limit: Limit = 50) -> Response:
    """The workspace's exports, newest first."""
    rows, next_cursor = export_service.list_jobs(
        ctx.session, ctx.workspace(), cursor=cursor, limit=limit
    )
    return render_page(schemas.Export, [asdict(r) for r in rows], next_cursor)


@router.get(
    "/exports.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The app's import file"}},
)
def export_csv(
    ctx: Editor,
    request: Request,
    format: csvfiles.CsvFormat = csvfiles.CsvFormat.GENERIC,
    id: Annotated[list[uuid.UUID] | None, Query(max_length=1000)] = None,
    exclude_id: Annotated[list[uuid.UUID] | None, Query(max_length=1000)] = None,
    domain_id: uuid.UUID | None = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    type: MailboxType | None = None,
    q: Annotated[str | None, Query(max_length=320, description="Part of the address.")] = None,
    daily_limit: Annotated[int, Query(ge=1, le=10_000)] = 30,
    warmup_enabled: bool = False,
    warmup_limit: Annotated[int, Query(ge=1, le=500)] = 10,
    warmup_increment: Annotated[int, Query(ge=0, le=100)] = 1,
    warmup_reply_rate: Annotated[int, Query(ge=0, le=100)] = 30,
    tracking_domain: Annotated[str | None, Query(max_length=253)] = None,
) -> StreamingResponse:
    """The selection's ACTIVE mailboxes with their credentials, in the app's import format
    (or GENERIC: every credential column), streamed. The file holds the header and the rows
    only, values verbatim, so it imports as is. No account is needed."""
    workspace_id = ctx.workspace(Role.EDITOR)
    where = Filter(domain_id=domain_id, tag=tag, mailbox_type=type, text=q)
    tagged = tagged_domains(ctx.session, workspace_id, tag) if tag is not None else None
    chosen = csvfiles.statement(workspace_id, tagged, where, id, exclude_id or [])
    settings = ExportSettings(
        daily_limit=daily_limit,
        warmup_enabled=warmup_enabled,
        warmup_limit=warmup_limit,
        warmup_increment=warmup_increment,
        warmup_reply_rate=warmup_reply_rate,
        tracking_domain=tracking_domain,
    )
    database: Database = request.app.state.db
    name = f"mailboxes-{format.value.lower()}.csv"
    return StreamingResponse(
        csvfiles.rows(database, ctx.secrets, chosen, format, settings),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE},
    )


@router.get(
    "/exports/{export_id}", response_model=schemas.Export, openapi_extra=errors("export_not_found")
)
def get_export(export_id: uuid.UUID, ctx: Viewer) -> Response:
    """Status and counts."""
    return render(
        schemas.Export, asdict(export_service.get(ctx.session, ctx.workspace(), export_id))
    )


@router.get(
    "/exports/{export_id}/results",
    response_model=Page[schemas.ExportResult],
    openapi_extra=errors("export_not_found"),
)
def list_results(
    export_id: uuid.UUID,
    ctx: Viewer,
    status: ExportOutcome | None = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Response:
    """Per mailbox: created, updated, skipped (why) or failed (the app's message), newest first."""
    rows, next_cursor = export_service.list_results(
        ctx.session, ctx.workspace(), export_id, status=status, cursor=cursor, limit=limit
    )
    return render_page(schemas.ExportResult, rows, next_cursor)


@router.get(
    "/mailboxes/{mailbox_id}/exports",
    response_model=schemas.MailboxExports,
    openapi_extra=errors("mailbox_not_found"),
)
def mailbox_exports(mailbox_id: uuid.UUID, ctx: Viewer) -> Response:
    """Where the mailbox was exported: app, account, when and its id there, newest first."""
    mailbox_service.get_mailbox(ctx.session, workspace_id=ctx.workspace(), mailbox_id=mailbox_id)
    return render(schemas.MailboxExports, {"items": history.of_mailbox(ctx.session, mailbox_id)})
