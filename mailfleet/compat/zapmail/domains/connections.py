"""Bringing a domain to Zapmail (reference 5.9 "Domain connection"): the legacy name-servers,
verify and connect calls, the new connect call with `domainNames`, and connection requests.

A connection request is a connected domain on its way to ACTIVE (its id is the domain's id):
Mailfleet assigns its nameservers when the domain is submitted, and the periodic delegation
check activates it once the registrar points at them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, RequestContext, Viewer
from mailfleet.compat.zapmail.domains import schemas
from mailfleet.compat.zapmail.envelope import (
    Envelope,
    PageLimit,
    PageNumber,
    ServiceProvider,
    page_counters,
    respond,
)
from mailfleet.compat.zapmail.statuses import connection_filter, connection_status
from mailfleet.config import MailboxType
from mailfleet.domains import connections
from mailfleet.domains import service as domain_service
from mailfleet.domains.connections import observed_nameservers
from mailfleet.domains.names import NameError_, normalise
from mailfleet.domains.pages import by_names, page_of_domains
from mailfleet.domains.verification.service import verify_now
from mailfleet.exceptions import NotFound, Unprocessable
from mailfleet.kit.errordocs import errors

router = APIRouter(tags=["domains"])
# `domain` arguments below are Mailfleet's domain rows (a surface names no model).
SUBMIT_ERRORS = ("validation_error", "no_domain_accepted", "too_many_domains")


def _name(ctx: RequestContext, raw: str, field: str) -> str:
    name = normalise(raw, local_tlds=ctx.settings.local_tlds)
    if isinstance(name, NameError_):
        raise Unprocessable(name.detail, code="validation_error", field=field)
    return name.ascii


def _submit(
    ctx: RequestContext, names: list[str], provider: MailboxType | None
) -> list[dict[str, Any]]:
    """Submit the names the workspace does not hold yet; the rejections, as answered."""
    held = by_names(ctx.session, ctx.workspace(), names)
    new = [name for name in dict.fromkeys(names) if name not in held]
    if not new:
        return []
    submission = domain_service.submit(
        ctx.session,
        ctx.settings,
        workspace_id=ctx.workspace(),
        names=new,
        mailbox_type=provider,
        tags=[],
        actor=ctx.actor,
    )
    return [{"domainName": r.name, "code": r.code, "reason": r.detail} for r in submission.rejected]


def _nameservers(domain: Any) -> str:
    return f"{domain.nameserver_1},{domain.nameserver_2}"


def request_of(ctx: RequestContext, domain: Any) -> dict[str, Any]:
    return {
        "id": domain.id,
        "domainName": domain.name,
        "userId": ctx.user_id,
        "workspaceId": domain.workspace_id,
        "serviceProvider": (domain.dns_provider or "builtin").upper(),
        "dnsManagedBy": "ZAPMAILDNS",
        "status": connection_status(domain),
        "metadata": {
            "currentNameServers": observed_nameservers(domain),
            "expectedNameServers": [domain.nameserver_1, domain.nameserver_2],
        },
        "nextRetryOn": domain.next_check_at,
        "createdAt": domain.created_at,
        "updatedAt": domain.updated_at,
        "deletedAt": None,
    }


@router.post(
    "/api/v2/domains/name-servers",
    summary="Get Name servers to connect domain (deprecated)",
    response_model=Envelope[schemas.NameServers],
    openapi_extra=errors(*SUBMIT_ERRORS),
)
def name_servers(body: schemas.NameServersIn, ctx: Editor, provider: ServiceProvider) -> Response:
    """The two nameservers to set at the registrar, comma-separated. The domain is submitted
    (a connection request) if the workspace does not hold it yet."""
    name = _name(ctx, body.domain_name, "domainName")
    _submit(ctx, [name], provider)
    domain = by_names(ctx.session, ctx.workspace(), [name]).get(name)
    if domain is None:
        raise Unprocessable(
            "The domain cannot be connected here.", code="no_domain_accepted", field="domainName"
        )
    data = {"nameServers": _nameservers(domain)}
    message = "NS records for transfer fetched successfully"
    return respond(Envelope[schemas.NameServers], message, data)


@router.post(
    "/api/v2/domains/name-servers/verify",
    summary="Verify Name Server Propagation (deprecated)",
    response_model=Envelope[schemas.Propagation],
    openapi_extra=errors("validation_error", "domain_not_found"),
)
def verify_name_servers(body: schemas.VerifyIn, ctx: Editor, request: Request) -> Response:
    """Ask the parent zone now whether it delegates the domain to its nameservers; a domain
    delegated becomes ACTIVE."""
    name = _name(ctx, body.domain_name, "domainName")
    domain = by_names(ctx.session, ctx.workspace(), [name]).get(name)
    if domain is None:
        raise NotFound(
            "No such domain in the workspace: get its name servers first.",
            code="domain_not_found",
            field="domainName",
        )
    domain_id = domain.id
    # The check waits on the network: end this request's transaction first.
    ctx.session.commit()
    result = verify_now(request.app.state.runtime, domain_id, actor=ctx.actor)
    ctx.session.expire_all()
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id
    )
    data = {
        "domainName": domain.name,
        "verified": result["delegated"],
        "nameServers": _nameservers(domain),
        "currentNameServers": observed_nameservers(domain),
        "reason": result["diagnosis"].get("reason"),
    }
    message = (
        "Name servers verified successfully"
        if result["delegated"]
        else "Name servers are not propagated yet"
    )
    return respond(Envelope[schemas.Propagation], message, data)


@router.post(
    "/api/v2/domains/connect-domain",
    summary="Connect Domain with Zapmail",
    response_model=Envelope[schemas.Connected | None],
    openapi_extra=errors(*SUBMIT_ERRORS),
)
def connect_domain(body: schemas.ConnectIn, ctx: Editor, provider: ServiceProvider) -> Response:
    """Legacy body `{domainName, nameServers}`: connects one domain (`data: null`). New body
    `{domainNames: [...]}`: one connection request per name, and the names refused."""
    if body.domain_names:
        names: list[str] = []
        invalid: list[dict[str, Any]] = []
        for raw in body.domain_names:
            parsed = normalise(raw, local_tlds=ctx.settings.local_tlds)
            if isinstance(parsed, NameError_):
                invalid.append({"domainName": raw, "code": parsed.code, "reason": parsed.detail})
            else:
                names.append(parsed.ascii)
        rejected = invalid + _submit(ctx, names, provider)
        held = by_names(ctx.session, ctx.workspace(), names)
        requests = [request_of(ctx, held[n]) for n in dict.fromkeys(names) if n in held]
        if not requests:
            raise Unprocessable(
                "No domain of the list could be connected.",
                code="no_domain_accepted",
                field="domainNames",
            )
        data = {"connectionRequests": requests, "rejected": rejected}
        message = "Domain connection requests created successfully"
        return respond(Envelope[schemas.Connected], message, data)
    if not body.domain_name:
        raise Unprocessable(
            "Give domainName (or domainNames).", code="validation_error", field="domainName"
        )
    name = _name(ctx, body.domain_name, "domainName")
    _submit(ctx, [name], provider)
    if name not in by_names(ctx.session, ctx.workspace(), [name]):
        raise Unprocessable(
            "The domain cannot be connected here.", code="no_domain_accepted", field="domainName"
        )
    return respond(Envelope[None], "Domain Connected Successfully", None)


@router.get(
    "/api/v2/domains/connection-requests",
    summary="Get domain connection requests",
    response_model=Envelope[schemas.ConnectionPage],
    openapi_extra=errors("validation_error"),
)
def connection_requests(
    ctx: Viewer,
    page: PageNumber = 1,
    limit: PageLimit = 10,
    status: str | None = Query(default=None, max_length=40),
) -> Response:
    """Connected domains on their way to ACTIVE (and failed ones); `status=SUCCESS` lists the
    connected ones."""
    wanted = connection_filter(status)
    entries, total = page_of_domains(ctx.session, ctx.workspace(), wanted, page=page, limit=limit)
    data = {
        **page_counters(total, page, limit),
        "totalCount": total,
        "data": [request_of(ctx, entry.domain) for entry in entries],
    }
    message = "Pending domain connection requests"
    return respond(Envelope[schemas.ConnectionPage], message, data)


@router.delete(
    "/api/v2/domains/connection-requests",
    summary="Remove domain connection requests",
    response_model=Envelope[None],
    openapi_extra=errors("domain_not_found", "connection_completed", "validation_error"),
)
def remove_connection_requests(body: schemas.RemoveUnusedIn, ctx: Editor) -> Response:
    """Delete requests not connected yet (a stuck one is deleted and made again)."""
    connections.remove_requests(ctx.session, ctx.workspace(), body.ids, actor=ctx.actor)
    return respond(Envelope[None], "Domain connection requests removed successfully", None)
