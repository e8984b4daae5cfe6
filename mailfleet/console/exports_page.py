"""The exports page: the workspace's sequencer accounts (never their credentials) with adding
one and testing one, its export jobs (newest first, each linking to its per-mailbox results)
and the CSV files of its ACTIVE mailboxes in each app's import format.

Everything goes through the services of `/v1/export-accounts`, `/v1/exports` and
`/v1/exports.csv` (exports.accounts, exports.service, exports.csvfiles) with the same roles:
adding and testing an account need ADMIN, as on the API, and a CSV (it holds the passwords)
needs EDITOR. Any member sees the lists.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import Response, StreamingResponse

from mailfleet.auth.dependencies import RequestContext, Viewer
from mailfleet.console.web import PREFIX, PostedForm, page, redirect
from mailfleet.db import Database
from mailfleet.exceptions import MailfleetError
from mailfleet.exports import accounts, csvfiles
from mailfleet.exports import schemas as export_schemas
from mailfleet.exports import service as export_service
from mailfleet.exports.apps.protocol import ExportSettings
from mailfleet.exports.errors import ExportAccountNotFound, ExportNotFound
from mailfleet.exports.selection import Filter
from mailfleet.kit.responses import NO_STORE
from mailfleet.models import ExportApp, ExportOutcome, MailboxStatus, MailboxType, Role

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100
Cursor = Annotated[str | None, Query(max_length=512)]
# What "Export" picks: a filter on the mailboxes, not a status change.
EXPORTED_STATUS = MailboxStatus.ACTIVE


def _can_admin(ctx: RequestContext) -> bool:
    return ctx.role is not None and ctx.role.at_least(Role.ADMIN)


def _exports_page(
    ctx: RequestContext,
    status: int = 200,
    cursor: str | None = None,
    accounts_cursor: str | None = None,
    **values: Any,
) -> Response:
    workspace_id = ctx.workspace()
    account_rows, next_accounts = accounts.list_accounts(
        ctx.session, ctx.secrets, workspace_id, app=None, cursor=accounts_cursor, limit=PAGE_SIZE
    )
    jobs, next_cursor = export_service.list_jobs(
        ctx.session, workspace_id, cursor=cursor, limit=PAGE_SIZE
    )
    shown: dict[str, Any] = {"error": None, "entered": {}, "added": None, "checked": None}
    shown.update(values)
    return page(
        ctx,
        "exports.html",
        status,
        accounts=account_rows,
        next_accounts=next_accounts,
        jobs=jobs,
        next_cursor=next_cursor,
        apps=list(ExportApp),
        formats=list(csvfiles.CsvFormat),
        mailbox_types=list(MailboxType),
        can_admin=_can_admin(ctx),
        **shown,
    )


@router.get("/exports")
def exports(ctx: Viewer, cursor: Cursor = None, accounts_cursor: Cursor = None) -> Response:
    return _exports_page(ctx, cursor=cursor, accounts_cursor=accounts_cursor)


@router.post("/export-accounts")
def add_account(form: PostedForm) -> Response:
    """Adds an account as POST /v1/export-accounts does (its schema, then the service); a
    refusal comes back with its reason and the fields as typed (never the key)."""
    ctx = form.ctx
    workspace_id = ctx.workspace(Role.ADMIN)
    entered = {"app": form.field("app"), "label": form.field("label")}
    entered["instance_url"] = form.field("instance_url")
    try:
        body = export_schemas.AccountCreate.model_validate(
            {
                "app": entered["app"],
                "label": entered["label"],
                "credentials": {"api_key": form.field("api_key") or None},
                "instance_url": entered["instance_url"] or None,
            }
        )
        added = accounts.create(
            ctx.session,
            ctx.secrets,
            workspace_id,
            app=body.app,
            label=body.label,
            credentials=body.credentials.model_dump(exclude_none=True),
            instance_url=body.instance_url,
            config=body.config.model_dump(exclude_none=True),
        )
    except (MailfleetError, ValidationError) as exc:
        ctx.session.rollback()
        if isinstance(exc, ValidationError):
            detail, status = _invalid(exc), 422
        else:
            detail, status = exc.detail, exc.status
        return _exports_page(ctx, status, error=detail, entered=entered)
    return _exports_page(ctx, 201, added=added)


@router.post("/exports")
def start_export(form: PostedForm) -> Response:
    """Exports the ACTIVE mailboxes (of one type, or all) to one account, as POST /v1/exports
    does with a filter (ADMIN); then on to the job's page. A refusal (nothing to export, the
    re-export limit) comes back with its reason and starts nothing."""
    ctx = form.ctx
    workspace_id = ctx.workspace(Role.ADMIN)
    account_id = _id(form.field("account_id"), ExportAccountNotFound)
    account = accounts.get_row(ctx.session, workspace_id, account_id)
    raw_type = form.field("type")
    try:
        kind = MailboxType(raw_type) if raw_type else None
        job = export_service.create(
            ctx.session,
            ctx.settings,
            workspace_id,
            app=account.app,
            account_id=account.id,
            mailbox_ids=None,
            where=Filter(status=EXPORTED_STATUS, mailbox_type=kind),
            exclude_ids=[],
            export_settings=export_schemas.ExportSettingsIn().model_dump(),
            actor=ctx.actor,
        )
    except ValueError:
        return _exports_page(ctx, 422, error=f"{raw_type[:40]} is not a mailbox type.")
    except MailfleetError as exc:
        ctx.session.rollback()
        return _exports_page(ctx, exc.status, error=exc.detail)
    return redirect(f"{PREFIX}/exports/{job.id}")


def _invalid(exc: ValidationError) -> str:
    """The first of the schema's complaints, named by its field."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "form"
    return f"{where}: {first['msg']}"


@router.post("/export-accounts/{account_id}/test")
def test_account(form: PostedForm, account_id: str) -> Response:
    """The check of POST /v1/export-accounts/{id}/test: the app's answer, shown on the page."""
    ctx = form.ctx
    workspace_id = ctx.workspace(Role.ADMIN)
    row = accounts.get_row(ctx.session, workspace_id, _id(account_id, ExportAccountNotFound))
    app, label, account = row.app, row.label, accounts.app_account(ctx.secrets, row)
    ctx.session.rollback()  # no transaction stays open while the app answers
    try:
        result = accounts.check(ctx.settings, app, account)
    except MailfleetError as exc:
        return _exports_page(ctx, exc.status, error=exc.detail)
    return _exports_page(ctx, checked={"label": label, "ok": result.ok, "message": result.message})


@router.get("/exports.csv")
def export_csv(
    ctx: Viewer,
    request: Request,
    format: csvfiles.CsvFormat = csvfiles.CsvFormat.GENERIC,
) -> StreamingResponse:
    """The workspace's ACTIVE mailboxes in the app's import format, streamed by the same
    functions as GET /v1/exports.csv (with its default settings); EDITOR, as there."""
    workspace_id = ctx.workspace(Role.EDITOR)
    chosen = csvfiles.statement(workspace_id, None, Filter(), None, [])
    database: Database = request.app.state.db
    name = f"mailboxes-{format.value.lower()}.csv"
    return StreamingResponse(
        csvfiles.rows(database, ctx.secrets, chosen, format, ExportSettings()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE},
    )


@router.get("/exports/{export_id}")
def export_job(
    ctx: Viewer,
    export_id: str,
    status: Annotated[str, Query(max_length=32)] = "",
    cursor: Cursor = None,
) -> Response:
    """One job: its status and counts, and per mailbox the address, outcome and reason (of one
    outcome when the filter names one; its "Any" sends an empty status)."""
    workspace_id = ctx.workspace()
    outcome = ExportOutcome(status) if status in ExportOutcome.__members__ else None
    job = export_service.get(ctx.session, workspace_id, _id(export_id, ExportNotFound))
    results, next_cursor = export_service.list_results(
        ctx.session, workspace_id, job.id, status=outcome, cursor=cursor, limit=PAGE_SIZE
    )
    return page(
        ctx,
        "exports_job.html",
        job=job,
        results=results,
        next_cursor=next_cursor,
        status_filter=outcome,
        outcomes=list(ExportOutcome),
    )


def _id(raw: str, missing: type[MailfleetError]) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise missing(f"{raw[:64]} not found.") from exc
