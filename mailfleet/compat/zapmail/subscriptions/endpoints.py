"""Zapmail's subscription endpoints (reference 4.7, 5.8): purchases and upgrades paid from the
wallet only (auto-recharge tops it up first when it is on), cancel and its undo in one call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Admin, RequestContext, Viewer
from mailfleet.billing.invoices import service as invoice_service
from mailfleet.billing.plans import seed as plan_seed
from mailfleet.billing.subscriptions import listing, paying, upgrades
from mailfleet.billing.subscriptions import service as subscription_service
from mailfleet.billing.subscriptions.quotes import Quote
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.compat.zapmail.envelope import Contains, Envelope, ServiceProvider, respond
from mailfleet.compat.zapmail.mailboxes.schemas import ListedMailbox, listed
from mailfleet.compat.zapmail.subscriptions import schemas
from mailfleet.domains import service as domain_service
from mailfleet.exceptions import Unprocessable
from mailfleet.kit.errordocs import errors
from mailfleet.mailboxes import grouped
from mailfleet.models.enums import BillingPeriod, MailboxType, Role, SubscriptionStatus

router = APIRouter(tags=["subscriptions"])
PLAN_REFUSALS = ("plan_not_found", "plan_retired", "currency_mismatch", "insufficient_funds")


def _invoice_url(request: Request, invoice_id: object) -> str | None:
    if invoice_id is None:
        return None
    return f"{str(request.base_url).rstrip('/')}/v1/invoices/{invoice_id}.html"


def _rendered(ctx: RequestContext, request: Request, subscription_id: object) -> dict[str, object]:
    for item in listing.listed(ctx.session, ctx.workspace()):
        if item.subscription.id == subscription_id:
            return schemas.subscription(item, _invoice_url(request, item.latest_invoice_id))
    raise AssertionError("the subscription just written is listed")


def _plan_key(body: schemas.Purchase, provider: MailboxType | None) -> str:
    """The lookup key given, else the seeded plan of that name, cycle and provider."""
    if body.lookup_key:
        return body.lookup_key
    # The schema requires the key, or the name and the cycle.
    assert body.plan_name is not None
    assert body.billing_cycle is not None
    chosen = MailboxType(body.service_provider) if body.service_provider else provider
    return plan_seed.lookup_key(
        chosen or MailboxType.GOOGLE, body.plan_name, BillingPeriod(body.billing_cycle)
    )


@router.get(
    "/api/v2/subscriptions",
    summary="Get all subscriptions",
    response_model=Envelope[list[schemas.Subscription]],
)
@router.get(
    "/api/v1/user/subscriptions",
    summary="Get all subscriptions (v1)",
    response_model=Envelope[list[schemas.Subscription]],
)
def list_subscriptions(
    ctx: Viewer,
    request: Request,
    status: Annotated[
        str | None, Query(max_length=20, description="ACTIVE, PAST_DUE, CANCELLED or EXPIRED.")
    ] = None,
    contains: Contains = None,
) -> Response:
    """Every subscription (active, cancelled and expired), newest first."""
    statuses = None
    if status and status.strip():
        try:
            statuses = [SubscriptionStatus(status.strip().upper())]
        except ValueError:
            raise Unprocessable(
                "status must be ACTIVE, PAST_DUE, CANCELLED or EXPIRED.",
                code="validation_error",
                field="status",
            ) from None
    items = listing.listed(ctx.session, ctx.workspace(), statuses=statuses, contains=contains)
    data = [schemas.subscription(i, _invoice_url(request, i.latest_invoice_id)) for i in items]
    return respond(Envelope[list[schemas.Subscription]], "User subscriptions", data)


@router.post(
    "/api/v2/subscriptions/purchase",
    summary="Purchase subscription",
    response_model=Envelope[schemas.Purchased],
    openapi_extra=errors(*PLAN_REFUSALS),
)
def purchase(
    body: schemas.Purchase, ctx: Admin, request: Request, provider: ServiceProvider
) -> Response:
    """Buy a plan by its lookup key (or name, billing cycle and provider), paid from the wallet
    only; the answer is modelled on the document's placement-test purchase."""
    workspace_id = ctx.workspace(Role.ADMIN)
    currency = ctx.settings.billing_currency
    key = _plan_key(body, provider)

    def price() -> Quote:
        return subscription_service.quote_purchase(ctx.session, workspace_id, key, currency)[1]

    paying.pay_shortfall(
        ctx.session, request.app.state.db, ctx.settings, workspace_id, price, actor=ctx.actor
    )
    before = wallet_service.balance_cents(ctx.session, workspace_id)
    bought = subscription_service.purchase(
        ctx.session, workspace_id, key, default_currency=currency, actor=ctx.actor
    )
    after = wallet_service.balance_cents(ctx.session, workspace_id)
    invoice = invoice_service.latest_for_subscription(ctx.session, workspace_id, bought.id)
    data = {
        "subscription": _rendered(ctx, request, bought.id),
        "invoice": None
        if invoice is None
        else {
            "invoiceId": invoice.id,
            "number": invoice.number,
            "invoiceUrl": _invoice_url(request, invoice.id),
            "amount": invoice.total_cents / 100,
            "currency": invoice.currency,
            "status": "paid",
        },
        "walletBalance": {
            "previousBalance": before / 100,
            "amountDeducted": (before - after) / 100,
            "currentBalance": after / 100,
        },
    }
    return respond(Envelope[schemas.Purchased], "Subscription purchased successfully", data)


@router.post(
    "/api/v2/subscriptions/cancel",
    summary="Cancel subscription",
    response_model=Envelope[schemas.Subscription],
    openapi_extra=errors(
        "subscription_not_found",
        "subscription_status_conflict",
        "cancellation_already_scheduled",
        "cancellation_not_scheduled",
    ),
)
def cancel(body: schemas.Cancel, ctx: Admin, request: Request) -> Response:
    """Cancel at the period end (slots kept until then); `revertCancellation: true` undoes it."""
    subscription = subscription_service.cancel(
        ctx.session,
        ctx.workspace(Role.ADMIN),
        body.subscription_id,
        revert=body.revert_cancellation,
        actor=ctx.actor,
    )
    message = (
        "Subscription cancellation reverted"
        if body.revert_cancellation
        else "Subscription will be cancelled at the end of the period"
    )
    data = _rendered(ctx, request, subscription.id)
    return respond(Envelope[schemas.Subscription], message, data)


@router.post(
    "/api/v2/subscriptions/upgrade",
    summary="Upgrade existing subscription",
    response_model=Envelope[schemas.Subscription],
    openapi_extra=errors(
        "subscription_not_found",
        *PLAN_REFUSALS,
        "subscription_not_active",
        "subscription_status_conflict",
        "same_plan",
        "downgrade_below_usage",
    ),
)
def upgrade(body: schemas.Upgrade, ctx: Admin, request: Request) -> Response:
    """Move to the plan of `lookupKey` (or `uniquePlanKey`) now, the unused days credited."""
    workspace_id = ctx.workspace(Role.ADMIN)
    currency = ctx.settings.billing_currency

    def price() -> Quote:
        current = subscription_service.find(ctx.session, workspace_id, body.subscription_id)
        return upgrades.quote_upgrade(ctx.session, current, body.plan_key, currency)[1]

    paying.pay_shortfall(
        ctx.session, request.app.state.db, ctx.settings, workspace_id, price, actor=ctx.actor
    )
    new = upgrades.upgrade(
        ctx.session,
        workspace_id,
        body.subscription_id,
        body.plan_key,
        default_currency=currency,
        actor=ctx.actor,
    )
    data = _rendered(ctx, request, new.id)
    return respond(Envelope[schemas.Subscription], "Subscription upgraded successfully", data)


@router.post(
    "/api/v2/subscriptions/mailboxes",
    summary="Get Mailboxes in a Subscription",
    response_model=Envelope[list[ListedMailbox]],
    openapi_extra=errors("subscription_not_found"),
)
def subscription_mailboxes(body: schemas.SubscriptionRefBody, ctx: Viewer) -> Response:
    """The workspace's live mailboxes of the types the subscription's slots hold."""
    workspace_id = ctx.workspace()
    subscription = subscription_service.find(ctx.session, workspace_id, body.subscription_id)
    mailboxes = grouped.live_of_types(ctx.session, workspace_id, list(subscription.mailbox_types))
    names = domain_service.domains_by_id(
        ctx.session, workspace_id, {m.domain_id for m in mailboxes}
    )
    data = [listed(m, names[m.domain_id].name, None) for m in mailboxes]
    return respond(Envelope[list[ListedMailbox]], "Mailboxes fetched successfully", data)
