from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from mailfleet.auth.dependencies import Editor, Reading, Viewer
from mailfleet.dns import delivery as dns_delivery
from mailfleet.domains import connections, schemas
from mailfleet.domains import service as domain_service
from mailfleet.domains.connections import ConnectionStep
from mailfleet.domains.listing import SORT_DESCRIPTION, DomainQuery, DomainSort, SortedCursorParam
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.reads import read_page
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import Domain, DomainStatus, MailboxType

router = APIRouter(tags=["domains"])


@router.post(
    "/domains",
    status_code=201,
    response_model=schemas.SubmitResult,
    openapi_extra=errors("too_many_domains", "no_domain_accepted"),
)
def submit_domains(body: schemas.DomainSubmit, ctx: Editor) -> Response:
    """Submit up to 10,000 domains (`MAILFLEET_MAX_DOMAINS_PER_BATCH` may lower it); each name is
    accepted or rejected on its own. A longer list is refused whole: 422 `too_many_domains`."""
    result = domain_service.submit(
        ctx.session,
        ctx.settings,
        workspace_id=ctx.workspace(),
        names=body.domains,
        mailbox_type=body.mailbox_type,
        tags=body.tags,
        actor=ctx.actor,
    )
    payload = {
        "batch_id": result.batch.id,
        "accepted": result.accepted,
        "rejected": [r.__dict__ for r in result.rejected],
    }
    return render(schemas.SubmitResult, payload, status=201)


@router.get("/domains", response_model=Page[schemas.Domain])
async def list_domains(
    request: Request,
    caller: Reading,
    cursor: SortedCursorParam = None,
    limit: Limit = 50,
    status: Annotated[list[DomainStatus] | None, Query()] = None,
    type: MailboxType | None = None,
    q: Annotated[str | None, Query(max_length=253, description="Text search on the name.")] = None,
    batch_id: uuid.UUID | None = None,
    sort: Annotated[DomainSort | None, Query(description=SORT_DESCRIPTION)] = None,
) -> Response:
    """List domains, newest first unless `sort` says otherwise (REMOVED ones only when asked for
    by status)."""
    # Polled while domains wait for delegation: the light path, pages kept until a commit.
    query = DomainQuery.of(
        caller.workspace(),
        statuses=status,
        mailbox_type=type,
        text=q,
        batch_id=batch_id,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )

    def page(connection: Connection) -> Response:
        with Session(bind=connection) as session:
            rows, next_cursor = domain_service.list_domains(session, query)
            return render_page(schemas.Domain, rows, next_cursor)

    # The validated parameters are the key: every one the query reads, nothing else.
    return await read_page(request, ("domains", query), page, bounded=False)


@router.get(
    "/domains/{domain_id}", response_model=schemas.Domain, openapi_extra=errors("domain_not_found")
)
def get_domain(domain_id: uuid.UUID, ctx: Viewer) -> Response:
    """Get one domain."""
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id
    )
    return render(schemas.Domain, domain)


@router.patch(
    "/domains/{domain_id}",
    response_model=schemas.Domain,
    openapi_extra=errors(
        "domain_not_found",
        "domain_removed",
        "mailbox_type_fixed",
        "forwarding_url_required",
        "invalid_username",
        "invalid_dns_settings",
        "dns_provider_error",
    ),
)
def update_domain(
    domain_id: uuid.UUID, body: schemas.DomainUpdate, ctx: Editor, request: Request
) -> Response:
    """Change settings: mailbox type (before any order), DMARC, forwarding, renewal, tags."""
    domain, change = domain_service.update_settings(
        ctx.session,
        ctx.settings,
        ctx.secrets,
        workspace_id=ctx.workspace(),
        domain_id=domain_id,
        changes=body.model_dump(exclude_unset=True),
        actor=ctx.actor,
    )
    answer = render(schemas.Domain, domain)
    if change is not None:
        # Commit first: the provider call must not hold the write lock (on SQLite, every write
        # of the deployment would wait for it). A refusal puts the settings back: a 502.
        ctx.session.commit()
        dns_delivery.deliver(request.app.state.runtime, change)
    return answer


@router.delete(
    "/domains/{domain_id}",
    response_model=schemas.Domain,
    openapi_extra=errors("domain_not_found", "domain_has_mailboxes"),
)
def remove_domain(domain_id: uuid.UUID, ctx: Editor) -> Response:
    """Remove a domain that has no live mailboxes; its name becomes free again."""
    domain = domain_service.remove_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id, actor=ctx.actor
    )
    return render(schemas.Domain, domain)


@router.get("/domain-batches", response_model=Page[schemas.Batch])
def list_batches(ctx: Viewer, cursor: CursorParam = None, limit: Limit = 50) -> Response:
    """List domain submissions, newest first."""
    rows, next_cursor = domain_service.list_batches(
        ctx.session, workspace_id=ctx.workspace(), cursor=cursor, limit=limit
    )
    return render_page(schemas.Batch, rows, next_cursor)


@router.get(
    "/domain-batches/{batch_id}",
    response_model=schemas.BatchStatus,
    openapi_extra=errors("domain_batch_not_found"),
)
def batch_status(batch_id: uuid.UUID, ctx: Viewer) -> Response:
    """Per-status counts of a submission and its domains grouped by nameserver pair."""
    report = domain_service.batch_report(
        ctx.session, workspace_id=ctx.workspace(), batch_id=batch_id
    )
    payload = {
        "id": report.batch.id,
        "created_at": report.batch.created_at,
        "submitted_count": report.batch.submitted_count,
        "accepted_count": report.batch.accepted_count,
        "rejected_count": report.batch.rejected_count,
        "status": report.status,
        "counts": report.counts,
        "nameserver_groups": [
            {"nameservers": list(pair), "domains": [domain.name for domain in domains]}
            for pair, domains in report.groups
        ],
    }
    return render(schemas.BatchStatus, payload)


@router.get("/connection-requests", response_model=Page[schemas.ConnectionRequest])
def list_connection_requests(
    ctx: Viewer,
    cursor: CursorParam = None,
    limit: Limit = 50,
    step: Annotated[
        ConnectionStep | None,
        Query(description="Only this step; without it, the open and failed requests."),
    ] = None,
) -> Response:
    """Domains brought in from elsewhere on their way to ACTIVE, newest first: where each is
    (the domain's lifecycle seen per request) and when it is checked again."""
    rows, next_cursor = connections.list_requests(
        ctx.session, ctx.workspace(), step, cursor=cursor, limit=limit
    )
    return render_page(schemas.ConnectionRequest, [_request(row) for row in rows], next_cursor)


@router.post(
    "/connection-requests/remove",
    response_model=schemas.Removed,
    openapi_extra=errors("domain_not_found", "connection_completed"),
)
def remove_connection_requests(body: schemas.ConnectionRemoval, ctx: Editor) -> Response:
    """Remove requests not connected yet, all or nothing (a stuck one is removed and submitted
    again); a connected domain is removed with DELETE /v1/domains/{id}."""
    removed = connections.remove_requests(ctx.session, ctx.workspace(), body.ids, actor=ctx.actor)
    return render(schemas.Removed, {"removed": removed})


def _request(domain: Domain) -> dict[str, object]:
    return {
        "id": domain.id,
        "domain": domain.name,
        "step": connections.step_of(domain),
        "domain_status": domain.status,
        "expected_nameservers": [domain.nameserver_1, domain.nameserver_2],
        "current_nameservers": connections.observed_nameservers(domain),
        "last_check_reason": domain.last_check_reason,
        "last_checked_at": domain.last_checked_at,
        "next_retry_at": domain.next_check_at,
        "failure_reason": domain.failure_reason,
        "created_at": domain.created_at,
    }
