"""Quick setups on the native API: buy names (wallet, or a payment link for what is missing),
the slots their mailboxes lack, place the mailboxes once each domain is ACTIVE, export them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Reading, Viewer, surface_auth
from mailfleet.kit.errordocs import errors
from mailfleet.kit.responses import render
from mailfleet.models import Role
from mailfleet.registrars import purchases, service
from mailfleet.registrars.registry import registrar_for
from mailfleet.setups import schemas, starting, views
from mailfleet.setups.service import Wanted

router = APIRouter(tags=["domain purchase"])


@router.post(
    "/quick-setups",
    status_code=201,
    response_model=schemas.Started,
    openapi_extra=errors(
        "registrar_not_configured",
        "registrar_error",
        "too_many_names",
        "duplicate_names",
        "names_not_for_sale",
        "too_many_years",
        "registrar_daily_cap_reached",
        "insufficient_role",
        "invalid_username",
        "subscription_not_found",
        "subscription_not_active",
        "addon_type_not_covered",
        "payments_not_configured",
        "payment_provider_error",
    ),
)
def create(request: Request, caller: Reading, body: schemas.QuickSetupCreate) -> Response:
    """Start a quick setup. Paid now when `use_wallet` and the wallet holds the total (names
    plus missing slots); else a Checkout for what is missing, the purchase going ahead from
    its paid webhook. Follow it at GET /v1/quick-setups/{id}."""
    settings = request.app.state.settings
    workspace_id = caller.workspace(Role.EDITOR)
    registrar = registrar_for(settings)
    # Priced with no transaction open: the registrar is a network call.
    offers = service.check(settings, registrar, None, workspace_id=workspace_id, names=body.names)
    priced = purchases.quote(offers, body.years, registrar.max_years)
    wanted = starting.Request(
        workspace_id=workspace_id,
        quotes=[priced],
        registrar=registrar.name,
        mailbox_type=body.mailbox_type,
        mailboxes={
            name.strip().lower(): [Wanted(m.username, m.first_name, m.last_name) for m in items]
            for name, items in body.mailboxes.items()
        },
        profile=surface_auth(request).profile,
        use_wallet=body.use_wallet,
        apps=[app.strip().upper() for app in body.apps],
        export_account_id=body.export_account_id,
    )
    started = starting.start(request.app.state.db, settings, wanted, actor=caller.principal.actor)
    payload = {
        "id": started.setup_id,
        "paid": started.paid,
        "payment_url": started.payment_link,
        "total_cents": started.total_cents,
        "addon_slots": started.addon_slots,
        "addon_cents": started.addon_cents,
        "currency": priced.currency,
    }
    return render(schemas.Started, payload, status=201)


@router.get(
    "/quick-setups/{setup_id}",
    response_model=schemas.QuickSetup,
    openapi_extra=errors("quick_setup_not_found"),
)
def get(setup_id: uuid.UUID, ctx: Viewer) -> Response:
    """Where the setup is, per domain: bought, ACTIVE, mailboxes placed, or skipped and why."""
    return render(schemas.QuickSetup, views.status_view(ctx.session, ctx.workspace(), setup_id))
