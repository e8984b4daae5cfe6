"""Domain availability (one name or a list), purchases and renewals, at the deployment's
registrar."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Reading, Viewer
from mailfleet.auth.ratelimit import RateLimits
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import DomainPurchaseStatus, DomainRenewal, DomainRenewalStatus, Role
from mailfleet.registrars import purchases, quota, renewals, schemas, service, suggestions
from mailfleet.registrars.registry import registrar_for

router = APIRouter(tags=["domain purchase"])
CODES = ("registrar_not_configured", "registrar_error", "too_many_names", "duplicate_names")


def _searches(request: Request) -> RateLimits:
    """The workspace search quota's counter, shared with the compat surfaces."""
    return quota.searches(request.app.state)


@router.get(
    "/domain-availability",
    response_model=schemas.Offer,
    openapi_extra=errors(*CODES, "rate_limited", "insufficient_role"),
)
def check_one(
    request: Request, caller: Reading, name: Annotated[str, Query(min_length=1, max_length=253)]
) -> Response:
    """Whether one name can be bought, at what price (one search of the workspace's quota)."""
    offers = _check(request, caller, [name])
    return render(schemas.Offer, offers[0])


@router.post(
    "/domain-availability",
    response_model=schemas.Offers,
    openapi_extra=errors(*CODES, "rate_limited", "insufficient_role"),
)
def check_many(request: Request, caller: Reading, body: schemas.AvailabilityCheck) -> Response:
    """Up to 20 names in one check (one search of the workspace's quota): each AVAILABLE,
    TAKEN, PREMIUM or UNSUPPORTED, with the registrar's and Mailfleet's prices."""
    return render(schemas.Offers, {"items": _check(request, caller, body.names)})


@router.post(
    "/domain-suggestions",
    response_model=schemas.Suggestions,
    openapi_extra=errors(*CODES, "rate_limited", "insufficient_role"),
)
def suggest(request: Request, caller: Reading, body: schemas.SuggestionsIn) -> Response:
    """Available look-alikes of a brand or seed domain: its label in other TLDs, then get-,
    try-, -hq, -mail... forms, checked in one registrar call (one search of the quota)."""
    settings = request.app.state.settings
    label, tld = suggestions.split(body.seed)
    names = suggestions.candidates(
        body.seed, body.tlds, at_most=min(20, settings.domain_search_max_names)
    )
    offers = _check(request, caller, list(names))
    items = [offer for offer in offers if offer.available][: body.limit]
    return render(
        schemas.Suggestions, {"seed": f"{label}.{tld}", "checked": len(names), "items": items}
    )


def _check(request: Request, caller: Reading, names: list[object]) -> list[service.Offer]:
    settings = request.app.state.settings
    return service.check(
        settings,
        registrar_for(settings),
        _searches(request),
        # A search spends the workspace's quota: members who may buy (EDITOR and up).
        workspace_id=caller.workspace(Role.EDITOR),
        names=names,
    )


def _purchase(found: Any) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "years": found.years,
        "registrar": found.registrar,
        "status": found.status,
        "price_cents": found.price_cents,
        "currency": found.currency,
        "nameservers": [found.nameserver_1, found.nameserver_2],
        "domain_id": found.domain_id,
        "failure_reason": found.failure_reason,
        "created_at": found.created_at,
        "registered_at": found.registered_at,
    }


@router.post(
    "/domain-purchases",
    status_code=201,
    response_model=schemas.Purchases,
    responses={200: {"model": schemas.PurchaseQuote, "description": "The dry run's quote."}},
    openapi_extra=errors(
        *CODES,
        "names_not_for_sale",
        "too_many_years",
        "insufficient_funds",
        "registrar_daily_cap_reached",
        "insufficient_role",
    ),
)
def buy(request: Request, caller: Reading, body: schemas.PurchaseCreate) -> Response:
    """Buy names for `years`, paid from the wallet at Mailfleet's price (402
    `insufficient_funds` naming the shortfall otherwise). The registrar prices them first:
    every name must be AVAILABLE. Each name goes to the registrar account with the fewest
    registrations today; 409 `registrar_daily_cap_reached` (nothing paid) when they do not all
    fit under the daily cap. Registration runs in the worker; a refused one is refunded."""
    settings = request.app.state.settings
    workspace_id = caller.workspace(Role.EDITOR)
    registrar = registrar_for(settings)
    # Priced with no transaction open: the registrar is a network call.
    offers = service.check(settings, registrar, None, workspace_id=workspace_id, names=body.names)
    priced = purchases.quote(offers, body.years, registrar.max_years)
    if body.dry_run:
        payload = {
            "items": priced.offers,
            "years": priced.years,
            "total_cents": priced.total_cents,
            "currency": priced.currency,
        }
        return render(schemas.PurchaseQuote, payload)
    with request.app.state.db.transaction() as session:
        rows = purchases.purchase(
            session,
            settings,
            priced,
            registrar=registrar.name,
            workspace_id=workspace_id,
            actor=caller.principal.actor,
        )
        payload = {
            "items": [_purchase(row) for row in rows],
            "total_cents": priced.total_cents,
            "currency": priced.currency,
        }
    return render(schemas.Purchases, payload, status=201)


@router.get("/domain-purchases", response_model=Page[schemas.Purchase])
def list_purchases(
    ctx: Viewer,
    cursor: CursorParam = None,
    limit: Limit = 50,
    status: Annotated[list[DomainPurchaseStatus] | None, Query()] = None,
) -> Response:
    """The workspace's domain purchases, newest first."""
    rows, next_cursor = purchases.list_purchases(
        ctx.session, ctx.workspace(), statuses=status, cursor=cursor, limit=limit
    )
    return render_page(schemas.Purchase, [_purchase(row) for row in rows], next_cursor)


@router.get(
    "/domain-purchases/{purchase_id}",
    response_model=schemas.Purchase,
    openapi_extra=errors("domain_purchase_not_found"),
)
def get_purchase(purchase_id: uuid.UUID, ctx: Viewer) -> Response:
    found = purchases.get_purchase(ctx.session, ctx.workspace(), purchase_id)
    return render(schemas.Purchase, _purchase(found))


def _renewal(found: DomainRenewal, name: str) -> dict[str, Any]:
    return {
        "id": found.id,
        "domain_id": found.domain_id,
        "domain_name": name,
        "registrar": found.registrar,
        "years": found.years,
        "status": found.status,
        "amount_cents": found.amount_cents,
        "currency": found.currency,
        "expires_before": found.expires_before,
        "attempts": found.attempts,
        "retry_at": found.retry_at,
        "failure_reason": found.failure_reason,
        "registrar_order_id": found.registrar_order_id,
        "created_at": found.created_at,
        "completed_at": found.completed_at,
    }


@router.get(
    "/domain-renewals",
    response_model=Page[schemas.Renewal],
    openapi_extra=errors("invalid_cursor"),
)
def list_renewals(
    ctx: Viewer,
    cursor: CursorParam = None,
    limit: Limit = 50,
    status: Annotated[list[DomainRenewalStatus] | None, Query()] = None,
    domain_id: uuid.UUID | None = None,
) -> Response:
    """The workspace's renewals of purchased domains, newest first (one per domain and
    registration period), filtered by status and domain."""
    rows, next_cursor = renewals.list_renewals(
        ctx.session,
        ctx.workspace(),
        statuses=status,
        domain_id=domain_id,
        cursor=cursor,
        limit=limit,
    )
    names = renewals.domain_names(ctx.session, rows)
    items = [_renewal(row, names.get(row.domain_id, "")) for row in rows]
    return render_page(schemas.Renewal, items, next_cursor)


@router.get(
    "/domain-renewals/{renewal_id}",
    response_model=schemas.Renewal,
    openapi_extra=errors("domain_renewal_not_found"),
)
def get_renewal(renewal_id: uuid.UUID, ctx: Viewer) -> Response:
    found = renewals.get_renewal(ctx.session, ctx.workspace(), renewal_id)
    names = renewals.domain_names(ctx.session, [found])
    return render(schemas.Renewal, _renewal(found, names.get(found.domain_id, "")))
