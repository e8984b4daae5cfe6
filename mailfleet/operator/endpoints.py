"""Operator routes: staff fulfilling orders by hand, across every workspace."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mailfleet.auth.dependencies import Operator
from mailfleet.billing import service as billing_service
from mailfleet.domains.schemas import Domain
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.mailboxes.schemas import Mailbox
from mailfleet.models import MailboxType, OrderStatus
from mailfleet.operator import health, schemas
from mailfleet.operator import service as operator_service
from mailfleet.orders.schemas import Order

router = APIRouter(prefix="/operator", tags=["operator"])


@router.put(
    "/workspaces/{workspace_id}/allocations/{mailbox_type}",
    response_model=schemas.Allocation,
    openapi_extra=errors("invalid_slots", "workspace_not_found"),
)
def set_allocation(
    workspace_id: uuid.UUID,
    mailbox_type: MailboxType,
    body: schemas.AllocationSet,
    ctx: Operator,
) -> Response:
    """Set how many mailboxes of a type a workspace may hold."""
    allocation = billing_service.set_allocation(
        ctx.session,
        workspace_id=workspace_id,
        mailbox_type=mailbox_type,
        slots=body.slots,
        actor=ctx.actor,
    )
    return render(schemas.Allocation, allocation)


@router.post(
    "/domains/{domain_id}/status",
    response_model=Domain,
    openapi_extra=errors(
        "invalid_status",
        "reason_required",
        "domain_not_found",
        "domain_removed",
        "domain_status_conflict",
    ),
)
def set_domain_status(
    domain_id: uuid.UUID, body: schemas.DomainStatusSet, ctx: Operator
) -> Response:
    """Mark a domain ACTIVE or FAILED (with a reason)."""
    domain = operator_service.set_domain_status(
        ctx.session,
        ctx.settings,
        domain_id=domain_id,
        status=body.status,
        reason=body.reason,
        actor=ctx.actor,
    )
    return render(Domain, domain)


@router.get("/mailbox-orders", response_model=Page[Order])
def order_queue(
    ctx: Operator,
    cursor: CursorParam = None,
    limit: Limit = 50,
    status: Annotated[list[OrderStatus] | None, Query()] = None,
) -> Response:
    """Orders of every workspace, oldest first (PENDING and IN_PROGRESS unless filtered)."""
    views, next_cursor = operator_service.list_queue(
        ctx.session, statuses=status, cursor=cursor, limit=limit
    )
    return render_page(Order, [v.payload() for v in views], next_cursor)


@router.post(
    "/mailbox-orders/{order_id}/start",
    response_model=Order,
    openapi_extra=errors("mailbox_order_not_found", "order_not_pending", "mailbox_status_conflict"),
)
def start_order(order_id: uuid.UUID, ctx: Operator) -> Response:
    """Take a PENDING order: its mailboxes become PROVISIONING."""
    view = operator_service.start_order(ctx.session, order_id=order_id, actor=ctx.actor)
    return render(Order, view.payload())


@router.patch(
    "/mailbox-orders/{order_id}",
    response_model=Order,
    openapi_extra=errors("mailbox_order_not_found"),
)
def update_order(order_id: uuid.UUID, body: schemas.OrderNotes, ctx: Operator) -> Response:
    """Set the operator notes of an order."""
    view = operator_service.update_order_notes(
        ctx.session, order_id=order_id, operator_notes=body.operator_notes
    )
    return render(Order, view.payload())


@router.post(
    "/mailboxes/{mailbox_id}/complete",
    response_model=Mailbox,
    openapi_extra=errors(
        "mailbox_not_found", "mailbox_not_provisioning", "mailbox_status_conflict"
    ),
)
def complete_mailbox(
    mailbox_id: uuid.UUID, body: schemas.MailboxComplete, ctx: Operator
) -> Response:
    """Hand over a created mailbox: its secrets are stored encrypted and it becomes ACTIVE."""
    mailbox = operator_service.complete_mailbox(
        ctx.session,
        ctx.secrets,
        mailbox_id=mailbox_id,
        fulfilment=operator_service.Fulfilment(**body.model_dump()),
        actor=ctx.actor,
    )
    return render(Mailbox, mailbox)


@router.post(
    "/mailboxes/{mailbox_id}/fail",
    response_model=Mailbox,
    openapi_extra=errors(
        "mailbox_not_found", "mailbox_not_provisioning", "mailbox_status_conflict"
    ),
)
def fail_mailbox(mailbox_id: uuid.UUID, body: schemas.MailboxFail, ctx: Operator) -> Response:
    """Mark a mailbox FAILED; it frees its place on the domain and its quota slot."""
    mailbox = operator_service.fail_mailbox(
        ctx.session, mailbox_id=mailbox_id, reason=body.reason, actor=ctx.actor
    )
    return render(Mailbox, mailbox)


@router.get("/job-health", response_model=schemas.JobHealth)
def job_health(ctx: Operator) -> Response:
    """Per kind of background work (domains, mailboxes, exports, webhook deliveries, domain
    purchases and renewals, quick setups, swaps): how much is under way, how much is due, and
    how long the oldest due item has waited."""
    items = [asdict(row) for row in health.backlog(ctx.session)]
    payload = {"sweep_interval_seconds": ctx.settings.sweep_interval, "items": items}
    return render(schemas.JobHealth, payload)
