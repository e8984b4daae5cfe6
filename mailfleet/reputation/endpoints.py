"""Blacklist listings and the health score: per domain, per workspace, and a check now."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, Viewer
from mailfleet.auth.scoping import get_scoped
from mailfleet.kit.errordocs import errors
from mailfleet.kit.responses import render
from mailfleet.models import Domain
from mailfleet.reputation import schemas, service, tasks

router = APIRouter(tags=["reputation"])


@router.get(
    "/domains/{domain_id}/reputation",
    response_model=schemas.DomainReputation,
    openapi_extra=errors("domain_not_found"),
)
def domain_reputation(domain_id: uuid.UUID, ctx: Viewer) -> Response:
    """The domain's current listings, recent delistings, last check and health score."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id)
    return render(schemas.DomainReputation, service.domain_reputation(ctx.session, domain))


@router.get("/reputation", response_model=schemas.ReputationSummary)
def workspace_reputation(ctx: Viewer) -> Response:
    """The workspace's ACTIVE domains by score band, the domains listed now, and the
    deployment's listed sending IPs."""
    return render(
        schemas.ReputationSummary, service.workspace_summary(ctx.session, ctx.workspace())
    )


@router.post(
    "/domains/{domain_id}/reputation/check",
    response_model=schemas.DomainReputation,
    openapi_extra=errors("domain_not_found", "domain_status_conflict", "blacklist_checks_disabled"),
)
def check_domain(domain_id: uuid.UUID, ctx: Editor, request: Request) -> Response:
    """Ask every domain zone about this ACTIVE domain now (within the query budget)."""
    runtime = request.app.state.runtime
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id)
    subject = service.check_for_domain(ctx.session, runtime.settings, domain)
    # The queries wait on the network: end this request's transaction first so no lock is held.
    ctx.session.commit()
    tasks.check_now(runtime, [subject.check_id], actor=ctx.actor)
    ctx.session.expire_all()
    return render(schemas.DomainReputation, service.domain_reputation(ctx.session, domain))
