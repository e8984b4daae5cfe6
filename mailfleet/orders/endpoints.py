from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, Viewer
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import OrderStatus
from mailfleet.orders import schemas
from mailfleet.orders import service as order_service

router = APIRouter(tags=["orders"])


@router.post(
    "/mailbox-orders",
    status_code=201,
    response_model=schemas.Order,
    openapi_extra=errors(*order_service.CREATE_ORDER_ERRORS),
)
def create_order(body: schemas.OrderCreate, ctx: Editor) -> Response:
    """Order mailboxes on one ACTIVE domain; nothing is created unless every rule passes."""
    view = order_service.create_order(
        ctx.session,
        ctx.settings,
        ctx.profile,
        workspace_id=ctx.workspace(),
        domain_ref=body.domain,
        mailbox_type=body.type,
        mailboxes=[
            order_service.NewMailbox(m.first_name, m.last_name, m.username) for m in body.mailboxes
        ],
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    return render(schemas.Order, view.payload(), status=201)


@router.get("/mailbox-orders", response_model=Page[schemas.Order])
def list_orders(
    ctx: Viewer,
    cursor: CursorParam = None,
    limit: Limit = 50,
    status: Annotated[list[OrderStatus] | None, Query()] = None,
    domain_id: uuid.UUID | None = None,
) -> Response:
    """List mailbox orders with their mailboxes, newest first."""
    views, next_cursor = order_service.list_orders(
        ctx.session,
        workspace_id=ctx.workspace(),
        statuses=status,
        domain_id=domain_id,
        cursor=cursor,
        limit=limit,
    )
    return render_page(schemas.Order, [v.payload() for v in views], next_cursor)


@router.get(
    "/mailbox-orders/{order_id}",
    response_model=schemas.Order,
    openapi_extra=errors("mailbox_order_not_found"),
)
def get_order(order_id: uuid.UUID, ctx: Viewer) -> Response:
    """Get one mailbox order with its mailboxes."""
    view = order_service.get_order(ctx.session, workspace_id=ctx.workspace(), order_id=order_id)
    return render(schemas.Order, view.payload())
