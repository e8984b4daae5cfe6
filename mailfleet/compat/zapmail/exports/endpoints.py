"""Zapmail's export endpoints (reference 4.6, 5.7, 7; rules R9, R11): export mailboxes to a
sequencer (or a CSV for MANUAL), its status by integer id, and the third-party accounts the
exports use, with the workspaces inside a sequencer. Calls to a sequencer happen with no
transaction open."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Admin, Editor, RequestContext, Viewer
from mailfleet.compat.zapmail.envelope import (
    Envelope,
    PageLimit,
    PageNumber,
    page_counters,
    respond,
)
from mailfleet.compat.zapmail.exports import schemas
from mailfleet.exceptions import Unprocessable
from mailfleet.exports import accounts, numbers
from mailfleet.exports import service as export_service
from mailfleet.exports.errors import InvalidExportAccount
from mailfleet.exports.schemas import ExportSettingsIn
from mailfleet.exports.selection import Filter
from mailfleet.kit.errordocs import errors
from mailfleet.models.enums import MailboxStatus, Role

router = APIRouter(tags=["exports"])
MANUAL = "MANUAL"
STARTED = "Mailboxes export is started. It may take sometime to export"
# The document leaves the status vocabulary open; RUNNING reads as Zapmail's IN_PROGRESS.
JOB_STATUS = {"PENDING": "PENDING", "RUNNING": "IN_PROGRESS", "COMPLETED": "COMPLETED"}
# A MANUAL export by ids carries them in the CSV link: few enough to keep the header small.
MAX_CSV_IDS = 100
ACCOUNT_REFUSALS = ("export_account_not_found", "export_account_required", "invalid_export_account")
EXPORT_HEADERS: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "X-Export-Ids": {
                "description": "Mailfleet addition: the exports' integer ids, one per app.",
                "schema": {"type": "string", "example": "7"},
            },
            "X-Export-Csv-Url": {
                "description": "Mailfleet addition, MANUAL only: the selection's CSV.",
                "schema": {"type": "string"},
            },
        }
    }
}
AppName = Annotated[str, Query(min_length=1, max_length=40, examples=["INSTANTLY"])]


def _app(name: str, field: str, *, manual: bool = False) -> numbers.App | None:
    """The app called `name`; None for MANUAL where it is allowed; else 422 naming them all."""
    if manual and name.strip().upper() == MANUAL:
        return None
    found = numbers.app_named(name)
    if found is None:
        allowed = ", ".join((*numbers.APPS, MANUAL) if manual else numbers.APPS)
        raise Unprocessable(
            f"{field} must be one of {allowed}, not {name.strip()!r}.",
            code="validation_error",
            field=field,
        )
    return found


def _status(value: str | None) -> MailboxStatus | None:
    # Only ACTIVE mailboxes can sign in at a sequencer; any other filter exports nothing.
    if value is None or value.strip().upper() == "ACTIVE":
        return None if value is None else MailboxStatus.ACTIVE
    raise Unprocessable(
        "status must be ACTIVE (only active mailboxes can be exported).",
        code="validation_error",
        field="status",
    )


@dataclass(frozen=True)
class _Targets:
    apps: list[numbers.App]
    manual: bool


def _targets(names: Sequence[str]) -> _Targets:
    apps: list[numbers.App] = []
    manual = False
    for name in names:
        app = _app(name, "apps", manual=True)
        if app is None:
            manual = True
        elif app not in apps:
            apps.append(app)
    return _Targets(apps, manual)


def _accounts_for(
    ctx: RequestContext, workspace_id: uuid.UUID, apps: list[numbers.App], named: uuid.UUID | None
) -> dict[numbers.App, uuid.UUID]:
    """Each app's account (R11): `thirdPartyAccountId` names the one of its own app."""
    owner = accounts.get_row(ctx.session, workspace_id, named).app if named else None
    if owner is not None and owner not in apps:
        raise InvalidExportAccount(
            f"Account {named} is a {owner.value} account, not one of the apps exported to.",
            field="thirdPartyAccountId",
        )
    return {
        app: numbers.resolve_account(
            ctx.session,
            workspace_id,
            app,
            named if app == owner else None,
            field="thirdPartyAccountId",
        ).id
        for app in apps
    }


def _csv_url(request: Request, body: schemas.ExportMailboxes) -> str:
    """The native CSV of the selection (GENERIC columns), fetched with the same key as Bearer."""
    ids = body.ids or []
    if len(ids) > MAX_CSV_IDS:
        raise Unprocessable(
            f"A MANUAL export names at most {MAX_CSV_IDS} ids; select by tag or text instead.",
            code="validation_error",
            field="ids",
        )
    query: list[tuple[str, str]] = [("format", "GENERIC")]
    query += [("id", str(i)) for i in ids]
    query += [("exclude_id", str(i)) for i in body.exclude_ids[:MAX_CSV_IDS]]
    if body.tag_ids:
        query.append(("tag", body.tag_ids[0]))
    if body.contains:
        query.append(("q", body.contains))
    return f"{str(request.base_url).rstrip('/')}/v1/exports.csv?{urlencode(query)}"


@router.post(
    "/api/v2/exports/mailboxes",
    summary="Export mailboxes",
    response_model=Envelope[None],
    responses=EXPORT_HEADERS,
    openapi_extra=errors(
        *ACCOUNT_REFUSALS, "export_app_not_supported", "no_mailbox_selected", "export_limit_reached"
    ),
)
@router.post(
    "/api/v1/exports/export-mailboxes",
    summary="Export mailboxes (v1)",
    response_model=Envelope[None],
    responses=EXPORT_HEADERS,
    openapi_extra=errors(
        *ACCOUNT_REFUSALS, "export_app_not_supported", "no_mailbox_selected", "export_limit_reached"
    ),
)
def export_mailboxes(body: schemas.ExportMailboxes, ctx: Editor, request: Request) -> Response:
    """One export job per app, run by the worker; its integer id in `X-Export-Ids` (one per
    app, in order), a MANUAL export's CSV link in `X-Export-Csv-Url`. Mailboxes exported 3
    times this week are left out; when that is all of them, 429 export_limit_reached."""
    workspace_id = ctx.workspace(Role.EDITOR)
    targets = _targets(body.apps)
    where = Filter(
        tag=body.tag_ids[0] if body.tag_ids else None,
        status=_status(body.status),
        text=body.contains,
    )
    chosen = _accounts_for(ctx, workspace_id, targets.apps, body.third_party_account_id)
    csv_url = _csv_url(request, body) if targets.manual else None
    settings = ExportSettingsIn().model_dump()  # warm-up off, as Zapmail's exports arrive
    numbers_made = []
    for app in targets.apps:
        job = export_service.create(
            ctx.session,
            ctx.settings,
            workspace_id,
            app=app,
            account_id=chosen[app],
            mailbox_ids=body.ids or None,
            where=where,
            exclude_ids=body.exclude_ids,
            export_settings=settings,
            actor=ctx.actor,
        )
        numbers_made.append(numbers.number_of(ctx.session, workspace_id, job.id))
    response = respond(Envelope[None], STARTED, None)
    if numbers_made:
        response.headers["X-Export-Ids"] = ",".join(str(n) for n in numbers_made)
    if csv_url is not None:
        response.headers["X-Export-Csv-Url"] = csv_url
    return response


@router.get(
    "/api/v2/exports/status",
    summary="Get Export Status",
    response_model=Envelope[schemas.ExportStatus],
    openapi_extra=errors("export_not_found"),
)
def export_status(
    ctx: Viewer,
    export_id: Annotated[int, Query(alias="exportId", ge=1, le=2_147_483_647)],
) -> Response:
    """The export numbered `exportId` in this workspace (1 is its first)."""
    job = numbers.get_by_number(ctx.session, ctx.workspace(), export_id)
    data = {
        "export_id": export_id,
        "status": JOB_STATUS.get(job.status.value, job.status.value),
        "failure_reason": job.failure_reason,
    }
    return respond(Envelope[schemas.ExportStatus], "Export status fetched successfully", data)


def _credentials(
    app: numbers.App, email: str, password: str, api_key: str | None
) -> dict[str, str]:
    """Zapmail signs in with email and password; apps whose client takes an API key get
    `apiKey`, else the password field as the key."""
    if api_key:
        return {"api_key": api_key}
    if numbers.signs_in_with_login(app):
        return {"email": email, "password": password}
    return {"api_key": password}


@router.post(
    "/api/v2/exports/accounts/third-party",
    summary="Add third party account details",
    response_model=Envelope[None],
    openapi_extra=errors("invalid_export_account"),
)
@router.post(
    "/api/v1/exports/add-third-party-account",
    summary="Add third party account details (v1)",
    response_model=Envelope[None],
    openapi_extra=errors("invalid_export_account"),
)
def add_account(body: schemas.AddAccount, ctx: Admin) -> Response:
    """Stored encrypted; labelled with its email. EMAILBISON takes url, clientId and
    clientIdAppName too."""
    app = _app(body.app, "app")
    assert app is not None
    config = {"client_id": body.client_id, "client_id_app_name": body.client_id_app_name}
    accounts.create(
        ctx.session,
        ctx.secrets,
        ctx.workspace(Role.ADMIN),
        app=app,
        label=body.email,
        credentials=_credentials(app, body.email, body.password, body.api_key),
        instance_url=body.url,
        config={key: value for key, value in config.items() if value is not None},
    )
    return respond(Envelope[None], "Account added successfully", None)


@router.put(
    "/api/v2/exports/accounts/third-party",
    summary="Update third party account details",
    response_model=Envelope[None],
    openapi_extra=errors(*ACCOUNT_REFUSALS),
)
@router.post(
    "/api/v1/exports/update-third-party-account",
    summary="Update third party account details (v1)",
    response_model=Envelope[None],
    openapi_extra=errors(*ACCOUNT_REFUSALS),
)
def update_account(body: schemas.UpdateAccount, ctx: Admin) -> Response:
    """New credentials (and label) for `accountId`, or the app's only account."""
    app = _app(body.app, "app")
    assert app is not None
    workspace_id = ctx.workspace(Role.ADMIN)
    row = numbers.resolve_account(
        ctx.session, workspace_id, app, body.account_id, field="accountId"
    )
    changes = {
        "label": body.email,
        "credentials": _credentials(app, body.email, body.password, body.api_key),
    }
    accounts.update(ctx.session, ctx.secrets, workspace_id, row.id, changes)
    return respond(Envelope[None], "Account updated successfully", None)


@router.get(
    "/api/v2/exports/accounts/third-party",
    summary="List all third-party accounts",
    response_model=Envelope[schemas.Accounts],
)
def list_accounts(
    ctx: Viewer, app: AppName, page: PageNumber = 1, limit: PageLimit = 10
) -> Response:
    """The workspace's accounts for `app`, oldest first; never a credential."""
    found = _app(app, "app")
    assert found is not None
    views, total = numbers.accounts_page(
        ctx.session, ctx.secrets, ctx.workspace(), app=found, page=page, limit=limit
    )
    data = {**page_counters(total, page, limit), "accounts": [schemas.account(v) for v in views]}
    return respond(Envelope[schemas.Accounts], "Accounts fetched successfully", data)


@router.get(
    "/api/v2/exports/fetch-workspaces",
    summary="Fetch Workspaces by App",
    response_model=Envelope[schemas.RemoteWorkspaces],
    openapi_extra=errors(*ACCOUNT_REFUSALS, "export_app_not_supported", "export_app_error"),
)
def fetch_workspaces(
    ctx: Viewer,
    app: AppName,
    account_id: Annotated[uuid.UUID | None, Query(alias="accountId")] = None,
) -> Response:
    """The workspaces (or clients) inside the app that the account reaches."""
    found = _app(app, "app")
    assert found is not None
    row = numbers.resolve_account(
        ctx.session, ctx.workspace(), found, account_id, field="accountId"
    )
    account = accounts.app_account(ctx.secrets, row)
    ctx.session.rollback()  # no transaction stays open while the app answers
    remote = accounts.remote_workspaces(ctx.settings, found, account)
    data = {"workspaces": [{"id": w.id, "name": w.name} for w in remote]}
    return respond(Envelope[schemas.RemoteWorkspaces], "Workspaces fetched successfully", data)
