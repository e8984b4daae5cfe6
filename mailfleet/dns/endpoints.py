"""DNS of a domain: records, zone file, delegation check and health check."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, Viewer
from mailfleet.dns import schemas, verification
from mailfleet.dns import service as dns_service
from mailfleet.dns.records import Record
from mailfleet.domains import service as domain_service
from mailfleet.kit.responses import render

router = APIRouter(tags=["dns"])


@router.get("/domains/{domain_id}/dns/records", response_model=schemas.DnsRecordList)
def list_records(domain_id: uuid.UUID, ctx: Viewer) -> Response:
    """Every record of the domain's zone, managed and user-added."""
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id
    )
    rows = dns_service.records_of(ctx.session, domain.id)
    return render(schemas.DnsRecordList, {"serial": domain.dns_serial, "items": rows})


@router.post("/domains/{domain_id}/dns/records", status_code=201, response_model=schemas.DnsRecord)
def add_record(domain_id: uuid.UUID, body: schemas.DnsRecordIn, ctx: Editor) -> Response:
    """Add a record; the zone's provider gets it before this answers."""
    domain = domain_service.get_domain_for_update(ctx.session, ctx.workspace(), domain_id)
    row = dns_service.add_record(
        ctx.session, dns_service.provider_of(ctx.settings, domain), domain, _record(body)
    )
    return render(schemas.DnsRecord, row, status=201)


@router.put("/domains/{domain_id}/dns/records/{record_id}", response_model=schemas.DnsRecord)
def update_record(
    domain_id: uuid.UUID, record_id: uuid.UUID, body: schemas.DnsRecordIn, ctx: Editor
) -> Response:
    """Replace a user record; managed records are refused."""
    domain = domain_service.get_domain_for_update(ctx.session, ctx.workspace(), domain_id)
    row = dns_service.get_record(ctx.session, domain, record_id)
    row = dns_service.update_record(
        ctx.session, dns_service.provider_of(ctx.settings, domain), domain, row, _record(body)
    )
    return render(schemas.DnsRecord, row)


@router.delete("/domains/{domain_id}/dns/records/{record_id}", status_code=204)
def delete_record(domain_id: uuid.UUID, record_id: uuid.UUID, ctx: Editor) -> Response:
    """Delete a user record; managed records are refused."""
    domain = domain_service.get_domain_for_update(ctx.session, ctx.workspace(), domain_id)
    row = dns_service.get_record(ctx.session, domain, record_id)
    dns_service.delete_record(
        ctx.session, dns_service.provider_of(ctx.settings, domain), domain, row
    )
    return Response(status_code=204)


@router.post("/domains/{domain_id}/dns/reset", response_model=schemas.DnsRecordList)
def reset_records(domain_id: uuid.UUID, ctx: Editor) -> Response:
    """Put every managed record back to its template and push them all to the provider again."""
    domain = domain_service.get_domain_for_update(ctx.session, ctx.workspace(), domain_id)
    dns_service.reset(ctx.session, ctx.settings, ctx.secrets, domain)
    rows = dns_service.records_of(ctx.session, domain.id)
    return render(schemas.DnsRecordList, {"serial": domain.dns_serial, "items": rows})


@router.get(
    "/domains/{domain_id}/dns/zone",
    response_class=Response,
    responses={200: {"content": {"text/dns": {}}, "description": "RFC 1035 master file"}},
)
def export_zone(domain_id: uuid.UUID, ctx: Viewer) -> Response:
    """The zone in RFC 1035 master-file format."""
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id
    )
    text = dns_service.zone_file(ctx.session, ctx.settings, domain)
    filename = f"{domain.name}.zone"
    return Response(
        text,
        media_type="text/dns",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/domains/{domain_id}/verify", response_model=schemas.Verification)
def verify_domain(domain_id: uuid.UUID, ctx: Editor, request: Request) -> Response:
    """Check delegation now: what the parent and each assigned nameserver answer."""
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id
    )
    # The check waits on the network: end this request's transaction first so no lock is held.
    ctx.session.commit()
    result = verification.verify_now(request.app.state.runtime, domain.id, actor=ctx.actor)
    return render(schemas.Verification, result)


@router.post("/domains/{domain_id}/dns/check", response_model=schemas.HealthCheck)
def check_dns(domain_id: uuid.UUID, ctx: Editor, request: Request) -> Response:
    """Ask the authoritative servers now; per expected record: present, missing or different."""
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id
    )
    ctx.session.commit()  # as above: no lock held across DNS queries
    result = verification.check_now(request.app.state.runtime, domain.id, actor=ctx.actor)
    return render(schemas.HealthCheck, result)


@router.get("/domains/{domain_id}/dns/check", response_model=schemas.HealthCheck)
def last_check(domain_id: uuid.UUID, ctx: Viewer) -> Response:
    """The last stored health check."""
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id
    )
    payload = {
        "checked_at": domain.health_checked_at,
        "drift": domain.dns_drift,
        "report": domain.health_report,
    }
    return render(schemas.HealthCheck, payload)


def _record(body: schemas.DnsRecordIn) -> Record:
    return Record(body.name, body.type, body.content, body.ttl, body.priority)
