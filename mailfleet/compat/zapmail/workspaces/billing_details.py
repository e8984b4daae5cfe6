"""Zapmail's billing details (reference 4.3, 5.4): POST and PUT /v2/billing for the
`x-workspace-key` workspace, v1 POST /v1/billing-details/add-or-update with `workspaceId`.

Stored through `workspaces.service.set_billing` under Mailfleet's keys (so the native
GET /v1/workspaces/{id}/billing, invoices and checkout read them) plus Zapmail's own, so the
workspace list renders them back. Both v2 verbs add or replace: Mailfleet keeps one set of
details per workspace."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.auth.dependencies import Admin, Context, RequestContext
from mailfleet.compat.zapmail.envelope import Envelope, respond
from mailfleet.compat.zapmail.workspaces.schemas import BillingDetailsIn, BillingDetailsV1, stored
from mailfleet.kit.errordocs import errors
from mailfleet.models.enums import Role
from mailfleet.workspaces import service as workspace_service

router = APIRouter(tags=["billing"])
Nothing = Envelope[None]
CODES = errors("workspace_not_found", "insufficient_role")


def store_billing(ctx: RequestContext, workspace_id: uuid.UUID, details: BillingDetailsIn) -> None:
    """Replace the workspace's details; the contact email stays the workspace's own when it
    has one (Zapmail's body has none), else it is the caller's."""
    current = workspace_service.get_billing(ctx.session, ctx.principal, workspace_id)
    email = (current["billing_details"] or {}).get("contact_email") or ctx.principal.email
    values = stored(details, email)
    workspace_service.set_billing(ctx.session, ctx.principal, workspace_id, values)


@router.post(
    "/api/v2/billing", summary="Add Billing Details", response_model=Nothing, openapi_extra=CODES
)
def add_billing(body: BillingDetailsIn, ctx: Admin) -> Response:
    store_billing(ctx, ctx.workspace(Role.ADMIN), body)
    return respond(Nothing, "Billing details added successfully", None)


@router.put(
    "/api/v2/billing",
    summary="Update Billing Details",
    response_model=Nothing,
    openapi_extra=CODES,
)
def update_billing(body: BillingDetailsIn, ctx: Admin) -> Response:
    store_billing(ctx, ctx.workspace(Role.ADMIN), body)
    return respond(Nothing, "Billing details updated successfully", None)


@router.post(
    "/api/v1/billing-details/add-or-update",
    summary="Add or update billing details (v1)",
    response_model=Nothing,
    openapi_extra=CODES,
)
def add_or_update_billing(body: BillingDetailsV1, ctx: Context) -> Response:
    """The workspace is the body's `workspaceId` (ADMIN there), not the header's."""
    store_billing(ctx, body.workspace_id, body)
    return respond(Nothing, "Billing details added successfully", None)
