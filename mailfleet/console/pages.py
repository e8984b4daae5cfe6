"""The customer dashboard's pages: the overview, domains (submit a pasted list, a batch's live
progress, the list, one domain) and the JSON the batch page's script polls.

Handlers call the same services as the API (domains.service, billing.slots, billing.wallet);
what they read for display only is in console.summary.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, Response

from mailfleet.auth.dependencies import Context, Viewer
from mailfleet.console import ordering, summary
from mailfleet.console.web import PREFIX, PostedForm, page, redirect
from mailfleet.domains import service as domain_service
from mailfleet.domains.listing import DomainQuery
from mailfleet.exceptions import MailfleetError, NotFound
from mailfleet.kit.errordocs import errors
from mailfleet.models import DomainStatus, MailboxType, Role

router = APIRouter(include_in_schema=False)
# What the JSON routes can answer besides authentication (documented for the error checks).
json_router = APIRouter()
PAGE_SIZE = 100
# A pasted list: one name per line, or separated by commas, semicolons or spaces.
_SEPARATORS = re.compile(r"[\s,;]+")


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound(f"No such {what}.", code=f"{what}_not_found") from exc


@router.get("/")
def overview(ctx: Context) -> Response:
    if ctx.workspace_id is None:
        # Signed in, but a member of no workspace yet (an invitation or the CLI makes one).
        return page(ctx, "overview.html", summary=None)
    return page(ctx, "overview.html", summary=summary.overview(ctx.session, ctx.workspace()))


@router.get("/domains")
def domains(
    ctx: Viewer,
    status: Annotated[DomainStatus | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=253)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    query = DomainQuery.of(
        ctx.workspace(),
        statuses=[status] if status else None,
        mailbox_type=None,
        text=q or None,
        batch_id=None,
        sort=None,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    rows, next_cursor = domain_service.list_domains(ctx.session, query)
    return page(
        ctx,
        "domains.html",
        domains=rows,
        next_cursor=next_cursor,
        filter_status=status,
        q=q or "",
        statuses=list(DomainStatus),
        types=list(MailboxType),
        error=None,
        pasted="",
    )


def split_names(pasted: str) -> list[str]:
    return [name for name in _SEPARATORS.split(pasted) if name]


@router.post("/domains")
def submit_domains(form: PostedForm) -> Response:
    """Submits a pasted list through the native batch submit; its page shows the progress."""
    ctx = form.ctx
    workspace_id = ctx.workspace(Role.EDITOR)
    pasted = form.fields.get("domains", "")
    kind = form.field("mailbox_type")
    try:
        mailbox_type = MailboxType(kind) if kind else None
        result = domain_service.submit(
            ctx.session,
            ctx.settings,
            workspace_id=workspace_id,
            names=split_names(pasted),
            mailbox_type=mailbox_type,
            tags=[],
            actor=ctx.actor,
        )
    except (MailfleetError, ValueError) as exc:
        # Refused whole: the form again with the reasons and the list as pasted.
        ctx.session.rollback()
        return _refused(form, pasted, exc)
    return redirect(f"{PREFIX}/batches/{result.batch.id}")


def _refused(form: PostedForm, pasted: str, exc: Exception) -> Response:
    ctx = form.ctx
    detail = exc.detail if isinstance(exc, MailfleetError) else "Pick a mailbox type from the list."
    reasons = [f"{e.field}: {e.detail}" for e in getattr(exc, "errors", ())]
    rows, next_cursor = domain_service.list_domains(
        ctx.session,
        DomainQuery.of(
            ctx.workspace(),
            statuses=None,
            mailbox_type=None,
            text=None,
            batch_id=None,
            sort=None,
            cursor=None,
            limit=PAGE_SIZE,
        ),
    )
    return page(
        ctx,
        "domains.html",
        422,
        domains=rows,
        next_cursor=next_cursor,
        filter_status=None,
        q="",
        statuses=list(DomainStatus),
        types=list(MailboxType),
        error={"detail": detail, "reasons": reasons},
        pasted=pasted,
    )


@router.get("/batches/{batch_id}")
def batch(ctx: Viewer, batch_id: str) -> Response:
    report = domain_service.batch_report(
        ctx.session, workspace_id=ctx.workspace(), batch_id=_uuid(batch_id, "domain_batch")
    )
    return page(ctx, "batch.html", report=report)


@json_router.get(
    "/api/batches/{batch_id}",
    openapi_extra=errors("domain_batch_not_found", "console_sign_in_required"),
)
def batch_progress(ctx: Viewer, batch_id: uuid.UUID) -> Response:
    """A batch's progress for the batch page's script: counts and each domain's status."""
    report = domain_service.batch_report(
        ctx.session, workspace_id=ctx.workspace(), batch_id=batch_id
    )
    return JSONResponse(
        {
            "batch_id": str(report.batch.id),
            "status": report.status,
            "counts": {status.value: count for status, count in report.counts.items()},
            "domains": [
                {"id": str(d.id), "name": d.name, "status": d.status.value} for d in report.domains
            ],
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/domains/{domain_id}")
def domain(ctx: Viewer, domain_id: str) -> Response:
    found = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=_uuid(domain_id, "domain")
    )
    return ordering.domain_page(ctx, found)
