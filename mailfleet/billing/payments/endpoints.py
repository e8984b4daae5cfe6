"""Payments routes: top-ups (a Checkout link), saved cards, auto-recharge, and the provider's
webhook.

Buying and changing payment settings needs ADMIN; any member reads. With
payments_provider=none a top-up or enabling auto-recharge answers 409 payments_not_configured
(an operator credits the wallet instead). The webhook route takes no API key: it is
authenticated by the provider's signature, and is not rate limited or made idempotent by the
surface (those policies key on the API key, which the provider never sends; each event applies
once by its own id).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mailfleet.auth.dependencies import Admin, Operator, RequestContext, Viewer
from mailfleet.billing.payments import checkout, refunds, schemas, webhook
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.billing.wallet.service import find_wallet
from mailfleet.db import Database
from mailfleet.kit.errordocs import errors
from mailfleet.kit.ids import uuid7
from mailfleet.kit.responses import render
from mailfleet.models import Role

router = APIRouter(tags=["wallet"])

DryRun = Annotated[
    bool, Query(description="Answer what would be charged (200) and change nothing.")
]
MethodId = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_]+$")]


def _database(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


@router.post(
    "/wallet/top-ups",
    status_code=201,
    response_model=schemas.TopUp,
    responses={200: {"model": schemas.TopUp, "description": "The quote of a dry run."}},
    openapi_extra=errors("invalid_amount", "payments_not_configured", "payment_provider_error"),
)
def create_top_up(
    body: schemas.TopUpCreate, ctx: Admin, request: Request, dry_run: DryRun = False
) -> Response:
    """Open a Checkout for `amount_cents`; the wallet is credited when the provider confirms
    the payment (webhook). `dry_run` (in the body or the query) answers the amount with 200
    and records nothing."""
    workspace_id = ctx.workspace(Role.ADMIN)
    amount = checkout.check_topup_amount(ctx.settings, body.amount_cents)
    checkout.require_provider(ctx.settings)
    purse = wallet_service.wallet_for(ctx.session, workspace_id)
    if dry_run or body.dry_run:
        quote = {
            "payment_id": None,
            "status": None,
            "url": None,
            "amount_cents": amount,
            "currency": purse.currency,
            "dry_run": True,
        }
        ctx.session.rollback()  # a dry run leaves nothing behind, not even a new wallet
        return render(schemas.TopUp, quote)
    opened = checkout.start_topup(
        ctx.session, _database(request), ctx.settings, purse, amount, actor=ctx.actor
    )
    return render(schemas.TopUp, opened.__dict__, status=201)


@router.get(
    "/wallet/payment-methods",
    response_model=schemas.PaymentMethodList,
    openapi_extra=errors("payment_provider_error"),
)
def list_payment_methods(ctx: Viewer) -> Response:
    """The saved cards; `default` is the one auto-recharge charges."""
    purse = find_wallet(ctx.session, ctx.workspace())
    ctx.session.commit()  # no transaction open across the provider call
    items = [
        {**method.__dict__, "default": default}
        for method, default in checkout.list_methods(ctx.settings, purse)
    ]
    return render(schemas.PaymentMethodList, {"items": items})


@router.delete(
    "/wallet/payment-methods/{pm_id}",
    response_model=schemas.PaymentMethodRemoved,
    openapi_extra=errors("payment_method_not_found", "payment_provider_error"),
)
def remove_payment_method(pm_id: MethodId, ctx: Admin, request: Request) -> Response:
    """Remove a saved card (detached at the provider); if it was the default, auto-recharge
    has no card until another is saved."""
    workspace_id = ctx.workspace(Role.ADMIN)
    ctx.session.commit()
    checkout.remove_method(_database(request), ctx.settings, workspace_id, pm_id, ctx.actor)
    return render(schemas.PaymentMethodRemoved, {"id": pm_id})


@router.put(
    "/wallet/auto-recharge",
    response_model=schemas.AutoRechargeState,
    responses={202: {"model": schemas.AutoRechargeState, "description": "A card is needed"}},
    openapi_extra=errors("invalid_amount", "payments_not_configured", "payment_provider_error"),
)
def set_auto_recharge(body: schemas.AutoRechargeSet, ctx: Admin, request: Request) -> Response:
    """Turn auto-recharge on or off. On with no saved card: 202 with `setup_url`, a Checkout
    (setup mode) that saves one; auto-recharge turns on when the card is saved."""
    workspace_id = ctx.workspace(Role.ADMIN)
    change = checkout.set_auto_recharge(
        ctx.session,
        ctx.settings,
        workspace_id,
        enabled=body.enabled,
        threshold_cents=body.threshold_cents,
        amount_cents=body.amount_cents,
        actor=ctx.actor,
    )
    state = _state(ctx)
    if change.setup_payment_id is None:
        return render(schemas.AutoRechargeState, state)
    ctx.session.commit()
    opened = checkout.open_checkout(_database(request), ctx.settings, change.setup_payment_id)
    state.update(setup_url=opened.url, setup_payment_id=opened.payment_id)
    return render(schemas.AutoRechargeState, state, status=202)


def _state(ctx: RequestContext) -> dict[str, object]:
    purse = find_wallet(ctx.session, ctx.workspace())
    assert purse is not None
    return {
        "enabled": purse.auto_recharge_enabled,
        "threshold_cents": purse.auto_recharge_threshold_cents,
        "amount_cents": purse.auto_recharge_amount_cents,
        "has_payment_method": purse.default_payment_method_id is not None,
    }


@router.post(
    "/operator/payments/{payment_id}/refunds",
    tags=["operator"],
    status_code=201,
    response_model=schemas.RefundMade,
    openapi_extra=errors(
        "payment_not_found",
        "payment_status_conflict",
        "invalid_amount",
        "insufficient_funds",
        "currency_mismatch",
        "payment_provider_error",
    ),
)
def refund_payment(
    payment_id: uuid.UUID, body: schemas.RefundCreate, ctx: Operator, request: Request
) -> Response:
    """Give back up to what is left of a paid top-up or recharge to the card, debiting the
    wallet by as much (refused with 402 if the wallet no longer holds it). The wallet is
    debited before the provider is asked; a refusal returns the debit. Send an
    Idempotency-Key: a retry then reuses the debit and the provider's refund."""
    # The request's own key makes the provider's, so a retry after a lost answer cannot
    # refund twice; without one every request is a new refund.
    request_id = request.headers.get("Idempotency-Key") or str(uuid7())
    reserved = refunds.reserve(
        ctx.session,
        payment_id,
        body.amount_cents,
        reason=body.reason,
        request=request_id[:100],
        actor=ctx.actor,
    )
    ctx.session.commit()  # the debit is kept before the provider call; no lock across it
    made = refunds.send(_database(request), ctx.settings, reserved, actor=ctx.actor)
    answer = {
        "refund_id": made.id,
        "status": made.status,
        "payment_id": reserved.payment_id,
        "amount_cents": reserved.amount_cents,
        "currency": reserved.currency,
        "wallet_entry_id": reserved.entry_id,
        "balance_after_cents": reserved.balance_after_cents,
    }
    return render(schemas.RefundMade, answer, status=201)


@router.post(
    "/payments/stripe/webhook",
    response_model=schemas.WebhookReceived,
    openapi_extra={
        "security": [],
        **errors("invalid_webhook_signature", "payment_provider_error"),
    },
)
async def stripe_webhook(
    request: Request,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> Response:
    """Stripe's events, verified with the webhook secret (no API key). Each event is applied
    once; a replay, an unknown type or an event about no payment of ours answers 200."""
    payload = await request.body()
    received = await run_in_threadpool(
        webhook.receive, _database(request), request.app.state.settings, payload, stripe_signature
    )
    return render(schemas.WebhookReceived, {"outcome": received.outcome})
