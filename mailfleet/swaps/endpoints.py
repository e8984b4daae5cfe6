"""Domain swaps on the native API: replace a burned domain's mailboxes with the same ones on
another domain, and follow the swap per mailbox."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Reading, Viewer, surface_auth
from mailfleet.exceptions import FieldError, Unprocessable
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import DomainSwapStatus, Role
from mailfleet.registrars import purchases
from mailfleet.registrars import service as registrar_service
from mailfleet.registrars.registry import registrar_for
from mailfleet.swaps import schemas, service

router = APIRouter(tags=["domain swaps"])


@router.post(
    "/domain-swaps",
    status_code=201,
    response_model=schemas.Swap,
    openapi_extra=errors(
        "domain_not_found",
        "nothing_to_swap",
        "swap_same_domain",
        "swap_target_unusable",
        "swap_target_has_mailboxes",
        "swap_type_mismatch",
        "domain_swap_in_progress",
        "swap_target_refused",
        "registrar_not_configured",
        "registrar_error",
        "names_not_for_sale",
        "too_many_years",
        "insufficient_funds",
        "registrar_daily_cap_reached",
        "insufficient_role",
    ),
)
def create(request: Request, caller: Reading, body: schemas.SwapCreate) -> Response:
    """Swap every ACTIVE mailbox of `from_domain_id` onto another domain: the same type,
    usernames, names and pictures. The new ones are made once the new domain is ACTIVE, taking
    over the old ones' slots; each old one is removed once its new one is ACTIVE, the new ones
    are exported to every sequencer account the old ones were in, and the old accounts there
    are deleted. With `buy`, `to_domain` is bought first (paid from the wallet)."""
    workspace_id = caller.workspace(Role.EDITOR)
    _check_target(body)
    settings = request.app.state.settings
    bought = None
    if body.buy:
        registrar = registrar_for(settings)
        # Priced with no transaction open: the registrar is a network call.
        offers = registrar_service.check(
            settings, registrar, None, workspace_id=workspace_id, names=[body.to_domain]
        )
        quote = purchases.quote(offers, body.years, registrar.max_years)
        bought = service.Bought(quote, registrar.name)
    with request.app.state.db.transaction() as session:
        swap = service.start(
            session,
            settings,
            surface_auth(request).profile,
            workspace_id=workspace_id,
            from_domain_id=body.from_domain_id,
            to_domain_id=body.to_domain_id,
            to_domain=body.to_domain,
            bought=bought,
            actor=caller.principal.actor,
        )
        return render(schemas.Swap, swap, status=201)


def _check_target(body: schemas.SwapCreate) -> None:
    if (body.to_domain_id is None) == (not body.to_domain):
        raise Unprocessable(
            "Name the new domain once: to_domain_id or to_domain.",
            code="validation_error",
            field="to_domain_id",
            errors=[
                FieldError("to_domain_id", "validation_error", "Give exactly one of these."),
                FieldError("to_domain", "validation_error", "Give exactly one of these."),
            ],
        )
    if body.buy and not body.to_domain:
        raise Unprocessable(
            "`buy` buys `to_domain`: name it.", code="validation_error", field="to_domain"
        )


@router.get("/domain-swaps", response_model=Page[schemas.Swap])
def list_swaps(
    ctx: Viewer,
    cursor: CursorParam = None,
    limit: Limit = 50,
    status: Annotated[list[DomainSwapStatus] | None, Query()] = None,
    domain_id: Annotated[
        uuid.UUID | None, Query(description="Swaps from or to this domain.")
    ] = None,
) -> Response:
    """The workspace's swaps, newest first."""
    rows, next_cursor = service.list_swaps(
        ctx.session,
        ctx.workspace(),
        statuses=status,
        domain_id=domain_id,
        cursor=cursor,
        limit=limit,
    )
    return render_page(schemas.Swap, rows, next_cursor)


@router.get(
    "/domain-swaps/{swap_id}",
    response_model=schemas.Swap,
    openapi_extra=errors("domain_swap_not_found"),
)
def get(swap_id: uuid.UUID, ctx: Viewer) -> Response:
    """Where the swap is, per mailbox: ordered, swapped, or failed and why."""
    return render(schemas.Swap, service.get(ctx.session, ctx.workspace(), swap_id))
