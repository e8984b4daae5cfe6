"""Plans: any member reads the current table; operators create, change and retire plans."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.auth.dependencies import Operator, Viewer
from mailfleet.billing.plans import schemas
from mailfleet.billing.plans import service as plan_service
from mailfleet.billing.plans.schemas import LookupKey
from mailfleet.exceptions import Unprocessable
from mailfleet.kit.errordocs import errors
from mailfleet.kit.responses import render
from mailfleet.models import BillingPeriod, MailboxType

router = APIRouter(tags=["billing"])
operator_router = APIRouter(prefix="/operator/plans", tags=["operator"])


@router.get("/plans", response_model=schemas.PlanList)
def list_plans(
    ctx: Viewer, mailbox_type: MailboxType | None = None, period: BillingPeriod | None = None
) -> Response:
    """The plans on sale (current versions, not retired), by lookup key."""
    ctx.workspace()
    plans = plan_service.list_current(ctx.session, mailbox_type=mailbox_type, period=period)
    return render(schemas.PlanList, {"items": plans})


@operator_router.post(
    "",
    status_code=201,
    response_model=schemas.Plan,
    openapi_extra=errors("plan_exists", "invalid_plan"),
)
def create_plan(body: schemas.PlanCreate, ctx: Operator) -> Response:
    """Create a plan (version 1 of a new lookup key)."""
    spec = plan_service.PlanSpec(
        lookup_key=body.lookup_key,
        name=body.name,
        tier=body.tier,
        period=body.period,
        mailbox_types=tuple(body.mailbox_types),
        slots=body.slots,
        price_cents=body.price_cents,
        addon_price_cents=body.addon_price_cents,
        currency=body.currency or ctx.settings.billing_currency,
    )
    return render(schemas.Plan, plan_service.create(ctx.session, spec, actor=ctx.actor), 201)


@operator_router.patch(
    "/{lookup_key}",
    response_model=schemas.Plan,
    openapi_extra=errors("plan_not_found", "invalid_plan", "null_value"),
)
def change_plan(lookup_key: LookupKey, body: schemas.PlanUpdate, ctx: Operator) -> Response:
    """Change a plan: a new version; subscriptions keep theirs until renewal."""
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise Unprocessable("Fields may be left out, not set to null.", code="null_value")
    plan = plan_service.change(ctx.session, lookup_key, changes, actor=ctx.actor)
    return render(schemas.Plan, plan)


@operator_router.post(
    "/{lookup_key}/retire",
    response_model=schemas.Plan,
    openapi_extra=errors("plan_not_found"),
)
def retire_plan(lookup_key: LookupKey, ctx: Operator) -> Response:
    """Stop selling a plan; its subscriptions keep renewing on their version."""
    return render(schemas.Plan, plan_service.retire(ctx.session, lookup_key, actor=ctx.actor))
