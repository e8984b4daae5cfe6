"""Checking a domain's delegation now. Listed with the DNS routes (tag "dns") in the docs."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor
from mailfleet.auth.scoping import get_scoped
from mailfleet.dns import schemas
from mailfleet.domains.verification import service
from mailfleet.kit.errordocs import errors
from mailfleet.kit.responses import render
from mailfleet.models import Domain

router = APIRouter(tags=["dns"])


@router.post(
    "/domains/{domain_id}/verify",
    response_model=schemas.Verification,
    openapi_extra=errors("domain_not_found"),
)
def verify_domain(domain_id: uuid.UUID, ctx: Editor, request: Request) -> Response:
    """Check delegation now: what the parent and each assigned nameserver answer."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id)
    # The check waits on the network: end this request's transaction first so no lock is held.
    ctx.session.commit()
    result = service.verify_now(request.app.state.runtime, domain.id, actor=ctx.actor)
    return render(schemas.Verification, result)
