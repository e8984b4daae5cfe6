"""Zapmail's domain endpoints (reference 4.8, 5.9), v2 and the v1 path it gives."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.auth.dependencies import RequestContext, Viewer
from mailfleet.compat.zapmail.domains import schemas
from mailfleet.compat.zapmail.envelope import (
    Contains,
    Envelope,
    PageLimit,
    PageNumber,
    ReadProvider,
    page_counters,
    respond,
)
from mailfleet.compat.zapmail.statuses import domain_filter
from mailfleet.domains.pages import DomainFilter, page_of_domains

router = APIRouter(tags=["domains"])
FETCHED = "Domains fetched successfully"


def _page(ctx: RequestContext, wanted: DomainFilter, page: int, limit: int) -> Response:
    entries, total = page_of_domains(
        ctx.session, ctx.workspace(), wanted, page=page, limit=limit, with_mailboxes=True
    )
    data = {
        **page_counters(total, page, limit),
        "domains": [schemas.domain(entry) for entry in entries],
    }
    return respond(Envelope[schemas.DomainPage], FETCHED, data)


@router.get(
    "/api/v2/domains", summary="Retrieve All Domains", response_model=Envelope[schemas.DomainPage]
)
@router.get(
    "/api/v1/domain/list",
    summary="Retrieve All Domains (v1)",
    response_model=Envelope[schemas.DomainPage],
)
def list_domains(
    ctx: Viewer,
    provider: ReadProvider,
    page: PageNumber = 1,
    limit: PageLimit = 10,
    contains: Contains = None,
) -> Response:
    """The workspace's domains by name, with their mailboxes."""
    return _page(ctx, DomainFilter(contains=contains, mailbox_type=provider), page, limit)


@router.post(
    "/api/v2/domains",
    summary="Retrieve All Domains (With filters)",
    response_model=Envelope[schemas.DomainPage],
)
def search_domains(
    body: schemas.DomainSearch,
    ctx: Viewer,
    provider: ReadProvider,
    page: PageNumber = 1,
    limit: PageLimit = 10,
) -> Response:
    """Domains by status (ACTIVE, INACTIVE, PENDING, IN_PROGRESS, EXPIRED), name and tags."""
    wanted = DomainFilter(
        statuses=domain_filter(body.status),
        contains=body.contains,
        tags=body.tag_ids,
        mailbox_type=provider,
    )
    return _page(ctx, wanted, body.page or page, body.limit or limit)


@router.get(
    "/api/v2/domains/assignable",
    summary="List Assignable Domains",
    response_model=Envelope[schemas.DomainPage],
)
def assignable_domains(
    ctx: Viewer,
    provider: ReadProvider,
    page: PageNumber = 1,
    limit: PageLimit = 10,
    contains: Contains = None,
) -> Response:
    """ACTIVE domains with a free place under the per-domain limit (5 for Google and
    Microsoft)."""
    wanted = DomainFilter(
        contains=contains, free_under=ctx.profile.domain_limits, mailbox_type=provider
    )
    return _page(ctx, wanted, page, limit)
