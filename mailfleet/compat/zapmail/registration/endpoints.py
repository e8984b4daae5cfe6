"""Zapmail's domain search and purchase endpoints (reference 4.8, 5.9, R10, R15).

Searches and purchases go through the native registrar services: the same name checks, the
same registrar, Mailfleet's markup, the workspace's search quota (shared with the native
`/v1/domain-availability`: 10 per 30 minutes by default, the documented 429 body over it).
Registrar calls are network calls: they run before any write transaction is opened, so these
handlers take the caller without a session (`Reading`) and open their own transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Caller, Reading, Viewer
from mailfleet.compat.zapmail.envelope import Envelope, ServiceProvider, respond
from mailfleet.compat.zapmail.registration import buying, schemas, searching
from mailfleet.exceptions import FieldError, MailfleetError
from mailfleet.kit.errordocs import errors
from mailfleet.models.enums import Role
from mailfleet.registrars import quota, service
from mailfleet.registrars.registry import registrar_for
from mailfleet.setups.service import Wanted
from mailfleet.setups.views import status_view

router = APIRouter(tags=["domains"])

CHECK_ERRORS = ("registrar_not_configured", "registrar_error", "too_many_names", "duplicate_names")
BUY_ERRORS = (
    *CHECK_ERRORS,
    "names_not_for_sale",
    "too_many_years",
    "insufficient_funds",
    "registrar_daily_cap_reached",
    "payments_not_configured",
    "payment_provider_error",
)


def renamed(error: MailfleetError, field_of: Callable[[int], str]) -> MailfleetError:
    """The native error with its `names[i]` fields named as the Zapmail body names them."""

    def rename(field: str | None) -> str | None:
        if field is None or not field.startswith("names["):
            return field
        index, _, rest = field[len("names[") :].partition("]")
        return field_of(int(index)) + rest if index.isdigit() else field

    error.field = rename(error.field)
    error.errors = [
        FieldError(rename(item.field) or item.field, item.code, item.detail)
        for item in error.errors
    ]
    return error


def check(request: Request, caller: Caller, names: list[str]) -> list[service.Offer]:
    """One search of the workspace's quota (EDITOR and up: a search spends it, as natively)."""
    settings = request.app.state.settings
    return service.check(
        settings,
        registrar_for(settings),
        quota.searches(request.app.state),
        workspace_id=caller.workspace(Role.EDITOR),
        names=names,
    )


@router.post(
    "/api/v2/domains/available",
    summary="Get available domains for registration",
    response_model=Envelope[schemas.Search],
    openapi_extra=errors(*CHECK_ERRORS, "rate_limited", "insufficient_role"),
)
def available(body: schemas.Available, caller: Reading, request: Request) -> Response:
    """The name, the same label in `tlds`, and a few similar names: one search."""
    names = searching.candidates(body.domain_name, body.tlds or [])
    try:
        offers = check(request, caller, names)
    except MailfleetError as exc:
        raise renamed(exc, lambda i: "domainName" if i == 0 else "tlds") from None
    data = searching.search(offers, body.years, alternatives=len(names) - searching.SIMILAR)
    return respond(Envelope[schemas.Search], "Domain availability fetched successfully", data)


@router.post(
    "/api/v2/domains/available-bulk",
    summary="Get availability of multiple domain names",
    response_model=Envelope[list[schemas.Offer]],
    openapi_extra=errors(*CHECK_ERRORS, "rate_limited", "insufficient_role"),
)
def available_bulk(body: schemas.AvailableBulk, caller: Reading, request: Request) -> Response:
    """Up to 20 exact names, each with its availability and price for `years`: one search."""
    try:
        offers = check(request, caller, list(body.domain_names))
    except MailfleetError as exc:
        raise renamed(exc, lambda i: f"domainNames[{i}]") from None
    data = [schemas.offer(item, body.years) for item in offers]
    return respond(Envelope[list[schemas.Offer]], "Domain availability fetched successfully", data)


@router.post(
    "/api/v2/domains/buy",
    summary="Get domains purchase payment link",
    response_model=Envelope[schemas.BuyAnswer],
    openapi_extra=errors(*BUY_ERRORS, "insufficient_role"),
)
def buy(body: schemas.Buy, caller: Reading, request: Request) -> Response:
    """`useWallet: true` pays from the wallet (registration runs in the worker); otherwise, or
    when the wallet is short, the answer is a payment link for the amount."""
    try:
        outcome, _ = buying.buy(request, caller, body)
    except MailfleetError as exc:
        raise renamed(exc, lambda i: f"domains[{i}].domainName") from None
    message = (
        "Domains purchased successfully"
        if outcome["paidFromWallet"]
        else "Payment link generated successfully"
    )
    return respond(Envelope[schemas.BuyAnswer], message, outcome)


@router.post(
    "/api/v2/quick-setup",
    summary="Quick Setup",
    response_model=Envelope[schemas.QuickSetupAnswer],
    openapi_extra=errors(
        *BUY_ERRORS,
        "insufficient_role",
        "validation_error",
        "invalid_username",
        "subscription_not_found",
        "subscription_not_active",
        "addon_type_not_covered",
    ),
)
def quick_setup(
    body: schemas.QuickSetup, caller: Reading, request: Request, provider: ServiceProvider
) -> Response:
    """Buy the domains (wallet, or a payment link) and the slots the mailboxes lack (R16);
    each domain's mailboxes are placed once it is ACTIVE, then exported to `apps`."""
    wanted = {
        name.lower(): [Wanted(m.mailbox_username, m.first_name, m.last_name) for m in items]
        for name, items in body.mailboxes.items()
    }
    try:
        outcome, started = buying.buy(
            request,
            caller,
            body,
            mailboxes=wanted,
            provider=provider,
            apps=[app.strip().upper() for app in body.apps or []],
            account_id=body.third_party_account_id,
        )
    except MailfleetError as exc:
        raise renamed(exc, lambda i: f"domains[{i}].domainName") from None
    outcome |= {
        "quickSetupId": started.setup_id,
        "addonMailboxes": started.addon_slots,
        "addonAmount": started.addon_cents / 100,
        "mailboxes": [
            {"domainName": name, "requested": len(items), "placed": 0}
            for name, items in wanted.items()
        ],
    }
    message = (
        "Quick setup started successfully"
        if outcome["paidFromWallet"]
        else "Payment link generated successfully"
    )
    return respond(Envelope[schemas.QuickSetupAnswer], message, outcome)


@router.get(
    "/api/v2/quick-setup/status",
    summary="Quick Setup status (Mailfleet addition)",
    response_model=Envelope[schemas.QuickSetupStatus],
    openapi_extra=errors("quick_setup_not_found"),
)
def quick_setup_status(ctx: Viewer, setup_id: uuid.UUID = Query(alias="id")) -> Response:
    """Where a quick setup is: waiting for its payment, its domains or its mailboxes, done (with
    the mailboxes placed and what was skipped, and why), or failed."""
    view = schemas.setup_status(status_view(ctx.session, ctx.workspace(), setup_id))
    return respond(Envelope[schemas.QuickSetupStatus], "Quick setup fetched successfully", view)
