"""Domain swaps on the native API: replace a burned domain's mailboxes with the same ones on
another domain, and follow the swap per mailbox."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, Viewer
from mailfleet.exceptions import FieldError, Unprocessable
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import DomainSwapStatus
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
    ),
)
def create(body: schemas.SwapCreate, ctx: Editor) -> Response:
    """Swap every ACTIVE mailbox of `from_domain_id` onto another domain: the same type,
    usernames, names and pictures. The new ones are made once the new domain is ACTIVE, taking
    over the old ones' slots; each old one is removed once its new one is ACTIVE, and the new
    ones are exported to every sequencer account the old ones were in."""
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
    swap = service.start(
        ctx.session,
        ctx.settings,
        ctx.profile,
        workspace_id=ctx.workspace(),
        from_domain_id=body.from_domain_id,
        to_domain_id=body.to_domain_id,
        to_domain=body.to_domain,
        actor=ctx.actor,
    )
    return render(schemas.Swap, swap, status=201)


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
