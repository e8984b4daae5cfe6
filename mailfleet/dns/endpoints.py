"""DNS of a domain: records, zone file and health check (delegation: domains.verification)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, RequestContext, Viewer
from mailfleet.auth.scoping import get_scoped
from mailfleet.dns import delivery, schemas, verification
from mailfleet.dns import service as dns_service
from mailfleet.dns.records import Record
from mailfleet.kit.errordocs import errors
from mailfleet.kit.responses import render
from mailfleet.models import Domain

router = APIRouter(tags=["dns"])


@router.get(
    "/domains/{domain_id}/dns/records",
    response_model=schemas.DnsRecordList,
    openapi_extra=errors("domain_not_found"),
)
def list_records(domain_id: uuid.UUID, ctx: Viewer) -> Response:
    """Every record of the domain's zone, managed and user-added."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id)
    rows = dns_service.records_of(ctx.session, domain.id)
    return render(schemas.DnsRecordList, {"serial": domain.dns_serial, "items": rows})


@router.post(
    "/domains/{domain_id}/dns/records",
    status_code=201,
    response_model=schemas.DnsRecord,
    openapi_extra=errors(*schemas.RECORD_ERRORS),
)
def add_record(
    domain_id: uuid.UUID, body: schemas.DnsRecordIn, ctx: Editor, request: Request
) -> Response:
    """Add a record; the zone's provider gets it before this answers."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id, for_update=True)
    row, change = dns_service.add_record(ctx.session, domain, _record(body))
    answer = render(schemas.DnsRecord, row, status=201)
    _send_after_commit(ctx, request, change)
    return answer


@router.put(
    "/domains/{domain_id}/dns/records/{record_id}",
    response_model=schemas.DnsRecord,
    openapi_extra=errors("dns_record_not_found", *schemas.RECORD_ERRORS),
)
def update_record(
    domain_id: uuid.UUID,
    record_id: uuid.UUID,
    body: schemas.DnsRecordIn,
    ctx: Editor,
    request: Request,
) -> Response:
    """Replace a user record; managed records are refused."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id, for_update=True)
    row = dns_service.get_record(ctx.session, domain, record_id)
    row, change = dns_service.update_record(ctx.session, domain, row, _record(body))
    answer = render(schemas.DnsRecord, row)
    _send_after_commit(ctx, request, change)
    return answer


@router.delete(
    "/domains/{domain_id}/dns/records/{record_id}",
    status_code=204,
    openapi_extra=errors(
        "domain_not_found", "dns_record_not_found", "managed_record", "dns_provider_error"
    ),
)
def delete_record(
    domain_id: uuid.UUID, record_id: uuid.UUID, ctx: Editor, request: Request
) -> Response:
    """Delete a user record; managed records are refused."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id, for_update=True)
    row = dns_service.get_record(ctx.session, domain, record_id)
    change = dns_service.delete_record(ctx.session, domain, row)
    _send_after_commit(ctx, request, change)
    return Response(status_code=204)


def _send_after_commit(ctx: RequestContext, request: Request, change: delivery.Change) -> None:
    # Commit first: the provider call must not hold the write lock (on SQLite, every write of
    # the deployment would wait for it). The row was rendered before, from what was stored.
    ctx.session.commit()
    delivery.deliver(request.app.state.runtime, change)


@router.post(
    "/domains/{domain_id}/dns/reset",
    response_model=schemas.DnsRecordList,
    openapi_extra=errors("domain_not_found", "invalid_dns_settings", "dns_provider_error"),
)
def reset_records(domain_id: uuid.UUID, ctx: Editor, request: Request) -> Response:
    """Put every managed record back to its template and push them all to the provider again."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id, for_update=True)
    change = dns_service.reset(ctx.session, ctx.settings, ctx.secrets, domain)
    rows = dns_service.records_of(ctx.session, domain.id)
    answer = render(schemas.DnsRecordList, {"serial": domain.dns_serial, "items": rows})
    _send_after_commit(ctx, request, change)
    return answer


@router.get(
    "/domains/{domain_id}/dns/zone",
    response_class=Response,
    responses={200: {"content": {"text/dns": {}}, "description": "RFC 1035 master file"}},
    openapi_extra=errors("domain_not_found"),
)
def export_zone(domain_id: uuid.UUID, ctx: Viewer) -> Response:
    """The zone in RFC 1035 master-file format."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id)
    text = dns_service.zone_file(ctx.session, ctx.settings, domain)
    filename = f"{domain.name}.zone"
    return Response(
        text,
        media_type="text/dns",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/domains/{domain_id}/dns/check",
    response_model=schemas.HealthCheck,
    openapi_extra=errors("domain_not_found", "zone_not_created"),
)
def check_dns(domain_id: uuid.UUID, ctx: Editor, request: Request) -> Response:
    """Ask the authoritative servers now; per expected record: present, missing or different."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id)
    ctx.session.commit()  # as above: no lock held across DNS queries
    result = verification.check_now(request.app.state.runtime, domain.id, actor=ctx.actor)
    return render(schemas.HealthCheck, result)


@router.get(
    "/domains/{domain_id}/dns/check",
    response_model=schemas.HealthCheck,
    openapi_extra=errors("domain_not_found"),
)
def last_check(domain_id: uuid.UUID, ctx: Viewer) -> Response:
    """The last stored health check."""
    domain = get_scoped(ctx.session, Domain, ctx.workspace(), domain_id)
    payload = {
        "checked_at": domain.health_checked_at,
        "drift": domain.dns_drift,
        "report": domain.health_report,
    }
    return render(schemas.HealthCheck, payload)


def _record(body: schemas.DnsRecordIn) -> Record:
    return Record(body.name, body.type, body.content, body.ttl, body.priority)
