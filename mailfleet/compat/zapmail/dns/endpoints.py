"""Zapmail's DNS record endpoints (reference 4.9, 5.10): a domain's records, read and changed
through the native DNS service (its validation, its protection of the records Mailfleet
manages), each change sent to the zone's provider after the commit."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, RequestContext, Viewer
from mailfleet.compat.zapmail.dns import schemas
from mailfleet.compat.zapmail.envelope import Envelope, respond
from mailfleet.dns import delivery
from mailfleet.dns import service as dns_service
from mailfleet.dns.schemas import RECORD_ERRORS
from mailfleet.domains import service as domain_service
from mailfleet.kit.errordocs import errors

router = APIRouter(tags=["dns"])


def _deliver(ctx: RequestContext, request: Request, changes: list[delivery.Change]) -> None:
    # Commit first: no provider call while the write lock is held.
    ctx.session.commit()
    for change in changes:
        delivery.deliver(request.app.state.runtime, change)


@router.get(
    "/api/v2/dns",
    summary="Get dns records",
    response_model=Envelope[list[schemas.DnsRecord]],
    openapi_extra=errors("domain_not_found"),
)
@router.get("/api/v2/dns/", include_in_schema=False)
def get_records(
    ctx: Viewer,
    id: Annotated[uuid.UUID, Query(description="The domain's id.")],  # noqa: A002
) -> Response:
    """Every record of the domain's zone, Mailfleet's own (managed) and yours."""
    domain = domain_service.get_domain(ctx.session, workspace_id=ctx.workspace(), domain_id=id)
    rows = dns_service.records_of(ctx.session, domain.id)
    data = [schemas.record(row) for row in rows]
    return respond(Envelope[list[schemas.DnsRecord]], "Dns records fetched successfully", data)


@router.post(
    "/api/v2/dns",
    summary="Add dns records",
    response_model=Envelope[list[schemas.DnsRecord]],
    openapi_extra=errors(*RECORD_ERRORS),
)
def add_records(body: schemas.AddRecords, ctx: Editor, request: Request) -> Response:
    """Add records, all or none: a refused one (bad name, a managed record...) adds none."""
    domain = domain_service.get_domain_for_update(
        ctx.session, ctx.workspace(), body.assigned_domain_id
    )
    rows, changes = [], []
    for entry in body.records:
        name = dns_service.absolute_name(domain, entry.host)
        row, change = dns_service.add_record(ctx.session, domain, schemas.as_record(name, entry))
        rows.append(row)
        changes.append(change)
    answer = respond(
        Envelope[list[schemas.DnsRecord]],
        "Dns records added successfully",
        [schemas.record(row) for row in rows],
    )
    _deliver(ctx, request, changes)
    return answer


@router.put(
    "/api/v2/dns",
    summary="Update dns records",
    response_model=Envelope[list[schemas.DnsRecord]],
    openapi_extra=errors("dns_record_not_found", *RECORD_ERRORS),
)
def update_records(body: schemas.UpdateRecords, ctx: Editor, request: Request) -> Response:
    """Replace records by id (host, value, type, priority), all or none."""
    domain = domain_service.get_domain_for_update(
        ctx.session, ctx.workspace(), body.assigned_domain_id
    )
    rows, changes = [], []
    for entry in body.records:
        current = dns_service.get_record(ctx.session, domain, entry.id)
        name = dns_service.absolute_name(domain, entry.host)
        row, change = dns_service.update_record(
            ctx.session, domain, current, schemas.as_record(name, entry)
        )
        rows.append(row)
        changes.append(change)
    answer = respond(
        Envelope[list[schemas.DnsRecord]],
        "Dns records updated successfully",
        [schemas.record(row) for row in rows],
    )
    _deliver(ctx, request, changes)
    return answer


@router.delete(
    "/api/v2/dns",
    summary="Delete dns records",
    response_model=Envelope[None],
    openapi_extra=errors("dns_record_not_found", "domain_not_found", "managed_record"),
)
def delete_records(body: schemas.DeleteRecords, ctx: Editor, request: Request) -> Response:
    """Delete records by id, all or none (Mailfleet's managed records cannot be deleted)."""
    domain = domain_service.get_domain_for_update(
        ctx.session, ctx.workspace(), body.assigned_domain_id
    )
    changes = []
    for record_id in dict.fromkeys(body.ids):
        row = dns_service.get_record(ctx.session, domain, record_id)
        changes.append(dns_service.delete_record(ctx.session, domain, row))
    answer = respond(Envelope[None], "Dns records deleted successfully", None)
    _deliver(ctx, request, changes)
    return answer
