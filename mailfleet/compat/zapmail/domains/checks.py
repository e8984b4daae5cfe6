"""Zapmail's domain health calls (reference 5.9): the health score and a DNS check now."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, Viewer
from mailfleet.compat.zapmail.domains import schemas
from mailfleet.compat.zapmail.envelope import Envelope, respond
from mailfleet.dns import verification
from mailfleet.domains import bulk
from mailfleet.domains import service as domain_service
from mailfleet.exceptions import Conflict, NotFound
from mailfleet.kit.errordocs import errors
from mailfleet.reputation.service import Scored, scored_domains

router = APIRouter(tags=["domains"])
SCORE_FETCHED = "Domain health score fetched successfully"


def _score(item: Scored) -> dict[str, Any]:
    return {
        "domainId": item.domain_id,
        "domain": item.domain,
        "healthScore": item.score.total,
        "band": item.score.band,
        "listedOn": len(item.listings),
        "listings": [{"zone": row.zone, "listedAt": row.listed_at} for row in item.listings],
        "checkedAt": item.checked_at,
    }


@router.get(
    "/api/v2/domains/health-score",
    summary="Retrieve Domain Health Score",
    response_model=Envelope[schemas.HealthScore | list[schemas.HealthScore]],
    openapi_extra=errors("domain_not_found", "domain_status_conflict"),
)
def health_score(
    ctx: Viewer, domain_id: uuid.UUID | None = Query(default=None, alias="domainId")
) -> Response:
    """One domain's score (`domainId`), or every ACTIVE domain's, by name: DNS as published,
    SPF/DKIM/DMARC, and the blacklists that list it now."""
    if domain_id is None:
        data: Any = [_score(item) for item in scored_domains(ctx.session, ctx.workspace())]
        return respond(Envelope[list[schemas.HealthScore]], SCORE_FETCHED, data)
    domain_service.get_domain(ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id)
    scored = scored_domains(ctx.session, ctx.workspace(), [domain_id])
    if not scored:
        raise Conflict(
            "The domain is not active yet: it has no health score.",
            code="domain_status_conflict",
            field="domainId",
        )
    return respond(Envelope[schemas.HealthScore], SCORE_FETCHED, _score(scored[0]))


@router.post(
    "/api/v2/domains/check-dns",
    summary="Check DNS records",
    response_model=Envelope[list[schemas.DnsCheck]],
    openapi_extra=errors("domain_not_found", "validation_error"),
)
def check_dns(body: schemas.CheckDnsIn, ctx: Editor, request: Request) -> Response:
    """Ask each domain's authoritative servers now (at most 20 domains a call): per expected
    record, present, missing or different. A domain without a zone yet says so."""
    ids = bulk.picked(ctx.session, ctx.workspace(), bulk.Pick(ids=body.domain_ids))
    found = domain_service.domains_by_id(ctx.session, workspace_id=ctx.workspace(), ids=ids)
    names = {domain_id: domain.name for domain_id, domain in found.items()}
    # The checks wait on the network: end this request's transaction first.
    ctx.session.commit()
    runtime = request.app.state.runtime
    data = []
    for domain_id in ids:
        item: dict[str, Any] = {"domainId": domain_id, "domain": names[domain_id]}
        try:
            result = verification.check_now(runtime, domain_id, actor=ctx.actor)
        except NotFound as exc:  # no zone yet: nothing to ask about
            item |= {"checked": False, "checkedAt": None, "drift": None}
            data.append(item | {"reason": exc.detail, "report": None})
            continue
        item |= {"checked": True, "checkedAt": result["checked_at"], "drift": result["drift"]}
        data.append(item | {"reason": None, "report": result["report"]})
    return respond(Envelope[list[schemas.DnsCheck]], "DNS records checked successfully", data)
