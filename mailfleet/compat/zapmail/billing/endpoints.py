"""Zapmail's wallet and payment endpoints (reference 4.5, 5.6): flat bodies (no envelope)
for the wallet, as documented; `{status, message, data}` for invoices.

Money is integer cents inside Mailfleet; Zapmail's USD numbers are converted at the edge.
Payment links are the payments provider's Checkout Sessions, opened after the commit (no
provider call while the write lock is held); the wallet is credited only by the provider's
signed webhook, as on the native API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Admin, Viewer
from mailfleet.billing.invoices import service as invoice_service
from mailfleet.billing.payments import checkout
from mailfleet.billing.subscriptions import addons, paying
from mailfleet.billing.subscriptions import service as subscription_service
from mailfleet.billing.subscriptions.errors import SubscriptionNotFound
from mailfleet.billing.subscriptions.quotes import Quote
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.compat.zapmail.billing import schemas
from mailfleet.compat.zapmail.envelope import Envelope, ServiceProvider, respond, respond_flat
from mailfleet.kit.errordocs import errors
from mailfleet.models.enums import MailboxType, Role

router = APIRouter(tags=["payments & wallet"])

Quantity = Annotated[int, Query(ge=1, le=10_000, description="Add-on slots to buy.")]


@router.post(
    "/api/v2/wallet/balance",
    summary="Add balance to wallet",
    response_model=schemas.PaymentLink,
    openapi_extra=errors("invalid_amount", "payments_not_configured", "payment_provider_error"),
)
def add_balance(body: schemas.AddBalance, ctx: Admin, request: Request) -> Response:
    """A Checkout Session for `amount` USD; the wallet is credited when it is paid."""
    workspace_id = ctx.workspace(Role.ADMIN)
    amount = checkout.check_topup_amount(ctx.settings, schemas.cents(body.amount))
    checkout.require_provider(ctx.settings)
    purse = wallet_service.wallet_for(ctx.session, workspace_id)
    opened = checkout.start_topup(
        ctx.session, request.app.state.db, ctx.settings, purse, amount, actor=ctx.actor
    )
    return respond_flat(
        schemas.PaymentLink,
        {"message": "Checkout session created successfully", "paymentLink": opened.url},
    )


@router.get(
    "/api/v2/wallet/balance", summary="Get wallet balance", response_model=schemas.WalletBalance
)
def get_balance(ctx: Viewer) -> Response:
    """The balance in USD and the auto-recharge settings."""
    view = wallet_service.wallet_view(
        ctx.settings, wallet_service.find_wallet(ctx.session, ctx.workspace())
    )
    recharge = view["auto_recharge"]
    return respond_flat(
        schemas.WalletBalance,
        {
            "message": "Wallet balance fetched successfully",
            "walletBalance": schemas.dollars(view["balance_cents"]),
            "autoRechargeEnabled": recharge["enabled"],
            "autoRechargeDetails": {
                "amount": schemas.dollars(recharge["amount_cents"]),
                "threshold": schemas.dollars(recharge["threshold_cents"]),
            },
        },
    )


@router.post(
    "/api/v2/wallet/enable-auto-recharge",
    summary="Enable auto recharge",
    response_model=schemas.AutoRechargeState,
    openapi_extra=errors("invalid_amount", "payments_not_configured", "payment_provider_error"),
)
def enable_auto_recharge(
    body: schemas.EnableAutoRecharge, ctx: Admin, request: Request
) -> Response:
    """On or off; on without a saved card answers a `paymentLink` that saves one (auto-recharge
    turns on once it is saved)."""
    change = checkout.set_auto_recharge(
        ctx.session,
        ctx.settings,
        ctx.workspace(Role.ADMIN),
        enabled=body.enable,
        threshold_cents=schemas.cents(body.threshold),
        amount_cents=schemas.cents(body.minimum_recharge_amount),
        actor=ctx.actor,
    )
    if change.setup_payment_id is None:
        message = "Auto recharge enabled" if change.enabled else "Auto recharge disabled"
        return respond_flat(
            schemas.AutoRechargeState,
            {"message": message, "autoRechargeEnabled": change.enabled},
        )
    ctx.session.commit()
    opened = checkout.open_checkout(request.app.state.db, ctx.settings, change.setup_payment_id)
    return respond_flat(
        schemas.AutoRechargeState,
        {
            "message": "Add your payment method to enable auto-recharge",
            "autoRechargeEnabled": False,
            "paymentLink": opened.url,
        },
    )


def _invoice_url(request: Request, invoice_id: object) -> str:
    return f"{str(request.base_url).rstrip('/')}/v1/invoices/{invoice_id}.html"


@router.post(
    "/api/v2/wallet/buy-addon-mailboxes",
    summary="Purchase add on mailboxes",
    response_model=schemas.PaymentLink,
    openapi_extra=errors(
        "subscription_not_found",
        "subscription_not_active",
        "addon_type_not_covered",
        "insufficient_funds",
    ),
)
def buy_addons(
    quantity: Quantity, ctx: Admin, request: Request, provider: ServiceProvider = None
) -> Response:
    """Extra slots on the newest active subscription (of x-service-provider's type when sent),
    paid from the wallet (auto-recharge tops it up first when it is on); `paymentLink` is the
    invoice."""
    workspace_id = ctx.workspace(Role.ADMIN)
    currency = ctx.settings.billing_currency
    subscription = subscription_service.newest_holding(ctx.session, workspace_id, provider)
    if subscription is None:
        raise SubscriptionNotFound("No active subscription to add mailboxes to.")
    reference = subscription.public_id
    kind = provider or MailboxType(subscription.mailbox_types[0])

    def price() -> Quote:
        current = subscription_service.find(ctx.session, workspace_id, reference)
        return addons.quote_addon(ctx.session, current, kind, quantity, currency)

    paying.pay_shortfall(
        ctx.session, request.app.state.db, ctx.settings, workspace_id, price, actor=ctx.actor
    )
    addon = addons.add(
        ctx.session,
        workspace_id,
        reference,
        kind,
        quantity,
        default_currency=currency,
        actor=ctx.actor,
    )
    invoice = invoice_service.latest_for_subscription(
        ctx.session, workspace_id, addon.subscription_id
    )
    link = _invoice_url(request, invoice.id) if invoice else None
    message = "Mailbox purchase is processed successfully and invoice is created."
    return respond_flat(
        schemas.PaymentLink,
        {"message": f"{message} {link}" if link else message, "paymentLink": link},
    )


@router.post(
    "/api/v2/payment/invoices",
    summary="get invoices for subscription",
    response_model=Envelope[schemas.InvoiceUrl],
    openapi_extra=errors("subscription_not_found"),
)
def subscription_invoice(body: schemas.InvoiceFor, ctx: Viewer, request: Request) -> Response:
    """The URL of the subscription's newest invoice (Mailfleet's own invoice page)."""
    workspace_id = ctx.workspace()
    subscription = subscription_service.find(ctx.session, workspace_id, body.subscription_id)
    invoice = invoice_service.latest_for_subscription(ctx.session, workspace_id, subscription.id)
    data = {"invoiceUrl": _invoice_url(request, invoice.id) if invoice else None}
    return respond(Envelope[schemas.InvoiceUrl], "Invoice fetched successfully", data)
