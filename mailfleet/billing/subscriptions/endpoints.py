"""Subscriptions: any member reads; ADMINs buy, upgrade, add slots, cancel and annotate.

Every purchase takes `dry_run` (in the body or the query): the quote answers 200 and nothing
changes. A real purchase whose wallet is short tops up first when auto-recharge is on: the
request's transaction is committed (it holds nothing yet) so the card charge runs outside it,
then the purchase is priced and charged again in a fresh one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from mailfleet.auth.dependencies import Admin, RequestContext, Viewer
from mailfleet.billing.subscriptions import addons, paying, schemas, service, upgrades
from mailfleet.billing.subscriptions.quotes import Quote
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import (
    AddonSlots,
    Invoice,
    Plan,
    Role,
    Subscription,
    SubscriptionPeriod,
    SubscriptionStatus,
)

router = APIRouter(tags=["billing"])

SubscriptionRef = Annotated[
    str, Path(min_length=1, max_length=64, description="The UUID or the sub_... id.")
]
DryRun = Annotated[bool, Query(description=schemas.DRY_RUN)]
PURCHASE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": schemas.Quote, "description": "The quote of a dry run."},
}
FOUND = ("subscription_not_found",)
# What a price can be refused for (a dry run lists them under `refusals` instead).
PLAN_REFUSALS = ("plan_not_found", "plan_retired", "currency_mismatch", "insufficient_funds")


def _quote(quote: Quote) -> Response:
    return render(schemas.Quote, quote.payload())


def _pay(ctx: RequestContext, request: Request, price: Callable[[], Quote]) -> None:
    workspace_id = ctx.workspace(Role.ADMIN)
    paying.pay_shortfall(
        ctx.session, request.app.state.db, ctx.settings, workspace_id, price, actor=ctx.actor
    )


def detail(ctx: RequestContext, subscription: Subscription) -> dict[str, Any]:
    session = ctx.session
    row = schemas.Subscription.model_validate(subscription).model_dump()
    row["plan_name"] = session.scalar(select(Plan.name).where(Plan.id == subscription.plan_id))
    row["periods"] = session.scalars(
        select(SubscriptionPeriod)
        .where(SubscriptionPeriod.subscription_id == subscription.id)
        .order_by(SubscriptionPeriod.period_start)
    ).all()
    row["addons"] = session.scalars(
        select(AddonSlots)
        .where(AddonSlots.subscription_id == subscription.id)
        .order_by(AddonSlots.id)
    ).all()
    row["invoices"] = session.scalars(
        select(Invoice).where(Invoice.subscription_id == subscription.id).order_by(Invoice.id)
    ).all()
    return row


def _render_detail(ctx: RequestContext, subscription: Subscription, status: int = 200) -> Response:
    return render(schemas.SubscriptionDetail, detail(ctx, subscription), status)


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=schemas.SubscriptionDetail,
    responses=PURCHASE_RESPONSES,
    openapi_extra=errors(*PLAN_REFUSALS),
)
def purchase(
    body: schemas.SubscriptionCreate, ctx: Admin, request: Request, dry_run: DryRun = False
) -> Response:
    """Buy a plan, paid from the wallet (auto-recharge tops it up first when it is on)."""
    workspace_id = ctx.workspace(Role.ADMIN)
    currency = ctx.settings.billing_currency

    def price() -> Quote:
        return service.quote_purchase(ctx.session, workspace_id, body.lookup_key, currency)[1]

    if dry_run or body.dry_run:
        return _quote(price())
    _pay(ctx, request, price)
    subscription = service.purchase(
        ctx.session, workspace_id, body.lookup_key, default_currency=currency, actor=ctx.actor
    )
    return _render_detail(ctx, subscription, 201)


@router.get("/subscriptions", response_model=Page[schemas.Subscription])
def list_subscriptions(
    ctx: Viewer,
    cursor: CursorParam = None,
    limit: Limit = 50,
    status: Annotated[list[SubscriptionStatus] | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text search.")] = None,
) -> Response:
    """Subscriptions, newest first; `q` searches lookup key, plan name, notes and sub_ id."""
    rows, next_cursor = service.list_subscriptions(
        ctx.session, ctx.workspace(), statuses=status, q=q, cursor=cursor, limit=limit
    )
    return render_page(schemas.Subscription, rows, next_cursor)


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=schemas.SubscriptionDetail,
    openapi_extra=errors(*FOUND),
)
def get_subscription(subscription_id: SubscriptionRef, ctx: Viewer) -> Response:
    """One subscription with its periods, add-ons, invoices and next renewal."""
    return _render_detail(ctx, service.find(ctx.session, ctx.workspace(), subscription_id))


@router.patch(
    "/subscriptions/{subscription_id}",
    response_model=schemas.SubscriptionDetail,
    openapi_extra=errors(*FOUND),
)
def update_subscription(
    subscription_id: SubscriptionRef, body: schemas.SubscriptionUpdate, ctx: Admin
) -> Response:
    """Set the subscription's notes."""
    subscription = service.set_notes(
        ctx.session, ctx.workspace(Role.ADMIN), subscription_id, body.notes, actor=ctx.actor
    )
    return _render_detail(ctx, subscription)


@router.post(
    "/subscriptions/{subscription_id}/cancel",
    response_model=schemas.SubscriptionDetail,
    openapi_extra=errors(
        *FOUND,
        "subscription_status_conflict",
        "cancellation_already_scheduled",
        "cancellation_not_scheduled",
    ),
)
def cancel_subscription(
    subscription_id: SubscriptionRef, body: schemas.SubscriptionCancel, ctx: Admin
) -> Response:
    """Cancel at the period end (slots kept until then), or revert with `revert: true`."""
    subscription = service.cancel(
        ctx.session,
        ctx.workspace(Role.ADMIN),
        subscription_id,
        revert=body.revert,
        actor=ctx.actor,
    )
    return _render_detail(ctx, subscription)


@router.post(
    "/subscriptions/{subscription_id}/upgrade",
    status_code=201,
    response_model=schemas.SubscriptionDetail,
    responses=PURCHASE_RESPONSES,
    openapi_extra=errors(
        *FOUND,
        *PLAN_REFUSALS,
        "subscription_not_active",
        "subscription_status_conflict",
        "same_plan",
        "downgrade_below_usage",
    ),
)
def upgrade_subscription(
    subscription_id: SubscriptionRef,
    body: schemas.SubscriptionUpgrade,
    ctx: Admin,
    request: Request,
    dry_run: DryRun = False,
) -> Response:
    """Move to another plan now: a new subscription, the unused days of this one credited."""
    workspace_id = ctx.workspace(Role.ADMIN)
    currency = ctx.settings.billing_currency

    def price() -> Quote:
        current = service.find(ctx.session, workspace_id, subscription_id)
        return upgrades.quote_upgrade(ctx.session, current, body.lookup_key, currency)[1]

    if dry_run or body.dry_run:
        return _quote(price())
    _pay(ctx, request, price)
    new = upgrades.upgrade(
        ctx.session,
        workspace_id,
        subscription_id,
        body.lookup_key,
        default_currency=currency,
        actor=ctx.actor,
    )
    return _render_detail(ctx, new, 201)


@router.post(
    "/subscriptions/{subscription_id}/addons",
    status_code=201,
    response_model=schemas.Addon,
    responses=PURCHASE_RESPONSES,
    openapi_extra=errors(
        *FOUND, "subscription_not_active", "addon_type_not_covered", "insufficient_funds"
    ),
)
def add_slots(
    subscription_id: SubscriptionRef,
    body: schemas.AddonCreate,
    ctx: Admin,
    request: Request,
    dry_run: DryRun = False,
) -> Response:
    """Buy extra slots of a type for the rest of the period, renewed with the subscription."""
    workspace_id = ctx.workspace(Role.ADMIN)
    currency = ctx.settings.billing_currency

    def price() -> Quote:
        current = service.find(ctx.session, workspace_id, subscription_id)
        return addons.quote_addon(ctx.session, current, body.mailbox_type, body.quantity, currency)

    if dry_run or body.dry_run:
        return _quote(price())
    _pay(ctx, request, price)
    addon = addons.add(
        ctx.session,
        workspace_id,
        subscription_id,
        body.mailbox_type,
        body.quantity,
        default_currency=currency,
        actor=ctx.actor,
    )
    return render(schemas.Addon, addon, 201)


@router.delete(
    "/subscriptions/{subscription_id}/addons/{addon_id}",
    response_model=schemas.Addon,
    openapi_extra=errors(*FOUND, "addon_not_found"),
)
def remove_slots(subscription_id: SubscriptionRef, addon_id: uuid.UUID, ctx: Admin) -> Response:
    """Stop renewing add-on slots; they last until the period end."""
    addon = addons.remove(
        ctx.session, ctx.workspace(Role.ADMIN), subscription_id, addon_id, actor=ctx.actor
    )
    return render(schemas.Addon, addon)
