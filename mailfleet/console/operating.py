"""The mailbox list, and the operator console: the queue of manual orders and the forms that
fulfil one (credentials per mailbox, notes, fail with a reason) through operator.service.

A fulfilment form is checked by the API's own request schema (operator.schemas), so the console
accepts exactly what `POST /v1/operator/mailboxes/{id}/complete` does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ValidationError
from starlette.responses import Response

from mailfleet.auth.dependencies import Operator, Viewer
from mailfleet.console.web import PREFIX, Posted, PostedForm, page, redirect
from mailfleet.exceptions import Forbidden, MailfleetError, NotFound, Unprocessable
from mailfleet.mailboxes import service as mailbox_service
from mailfleet.models import MailboxOrder, MailboxStatus, MailboxType, OrderStatus
from mailfleet.operator import health
from mailfleet.operator import schemas as operator_schemas
from mailfleet.operator import service as operator_service
from mailfleet.orders.service import OrderView, with_mailboxes

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100
QUEUE_SIZE = 100
FULFIL_FIELDS = (
    "password",
    "app_password",
    "totp_secret",
    "smtp_host",
    "smtp_port",
    "imap_host",
    "imap_port",
    "notes",
)
PORT_FIELDS = ("smtp_port", "imap_port")


@dataclass(frozen=True)
class MailboxRow:
    id: uuid.UUID
    address: str
    type: str
    status: str
    failure_reason: str | None


def _uuid(raw: str, code: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound("Not found.", code=code) from exc


@router.get("/mailboxes")
def mailboxes(
    ctx: Viewer,
    status: Annotated[MailboxStatus | None, Query()] = None,
    type: Annotated[MailboxType | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=320)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    filters = mailbox_service.ListFilters(
        statuses=[status] if status else None, mailbox_type=type, text=q or None
    )
    rows, next_cursor = mailbox_service.list_mailboxes(
        ctx.session.connection(),
        workspace_id=ctx.workspace(),
        filters=filters,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    # The service returns the driver's raw values (it renders them straight to JSON).
    shown = [
        MailboxRow(uuid.UUID(str(r.id)), r.address, str(r.type), str(r.status), r.failure_reason)
        for r in rows
    ]
    return page(
        ctx,
        "mailboxes.html",
        mailboxes=shown,
        next_cursor=next_cursor,
        filter_status=status,
        filter_type=type,
        q=q or "",
        statuses=list(MailboxStatus),
        types=list(MailboxType),
    )


@router.get("/operator/health")
def job_health(ctx: Operator) -> Response:
    """The background work of every workspace, per kind (operator.health, as
    GET /v1/operator/job-health): under way, due, and how long the oldest due one waited."""
    return page(
        ctx,
        "job_health.html",
        items=health.backlog(ctx.session),
        sweep_interval=ctx.settings.sweep_interval,
    )


@router.get("/operator/orders")
def queue(
    ctx: Operator,
    status: Annotated[OrderStatus | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    views, next_cursor = operator_service.list_queue(
        ctx.session, statuses=[status] if status else None, cursor=cursor, limit=QUEUE_SIZE
    )
    return page(
        ctx,
        "queue.html",
        orders=views,
        next_cursor=next_cursor,
        filter_status=status,
        statuses=list(OrderStatus),
    )


def _view(ctx: Any, order_id: uuid.UUID) -> OrderView:
    order = ctx.session.get(MailboxOrder, order_id)
    if order is None:
        raise NotFound(f"Mailbox order {order_id} not found.", code="mailbox_order_not_found")
    return with_mailboxes(ctx.session, [order])[0]


def _order_page(ctx: Any, order_id: uuid.UUID, status: int = 200, **extra: Any) -> Response:
    values: dict[str, Any] = {"error": None, "error_mailbox": None, "entered": {}}
    values.update(extra)
    return page(ctx, "order.html", status, view=_view(ctx, order_id), **values)


@router.get("/operator/orders/{order_id}")
def order(ctx: Operator, order_id: str) -> Response:
    return _order_page(ctx, _uuid(order_id, "mailbox_order_not_found"))


def _operator(form: Posted) -> None:
    if not form.ctx.principal.is_operator:
        raise Forbidden("Only operators may do this.", code="operator_required")


def _refused(
    form: Posted, order_id: uuid.UUID, exc: MailfleetError, mailbox: str | None
) -> Response:
    # Nothing of the refused change stays; the page shows why, with what was typed (no secret).
    form.ctx.session.rollback()
    entered = {
        k: v
        for k, v in form.fields.items()
        if k in ("smtp_host", "smtp_port", "imap_host", "imap_port", "notes")
    }
    return _order_page(
        form.ctx, order_id, exc.status, error=exc.detail, error_mailbox=mailbox, entered=entered
    )


@router.post("/operator/orders/{order_id}/start")
def start(form: PostedForm, order_id: str) -> Response:
    _operator(form)
    wanted = _uuid(order_id, "mailbox_order_not_found")
    try:
        operator_service.start_order(form.ctx.session, order_id=wanted, actor=form.ctx.actor)
    except MailfleetError as exc:
        return _refused(form, wanted, exc, None)
    return redirect(f"{PREFIX}/operator/orders/{wanted}")


@router.post("/operator/orders/{order_id}/notes")
def notes(form: PostedForm, order_id: str) -> Response:
    _operator(form)
    wanted = _uuid(order_id, "mailbox_order_not_found")
    operator_service.update_order_notes(
        form.ctx.session, order_id=wanted, operator_notes=form.field("operator_notes") or None
    )
    return redirect(f"{PREFIX}/operator/orders/{wanted}")


def _fulfilment(fields: dict[str, str]) -> operator_service.Fulfilment:
    """The form as the API's request body: blank optional fields left out, ports as numbers."""
    body: dict[str, object] = {}
    for name in FULFIL_FIELDS:
        value = fields.get(name, "").strip()
        if not value:
            continue
        body[name] = int(value) if name in PORT_FIELDS and value.isdigit() else value
    checked = operator_schemas.MailboxComplete.model_validate(body)
    return operator_service.Fulfilment(**checked.model_dump())


def _invalid(exc: ValidationError) -> MailfleetError:
    reasons = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()
    )
    return Unprocessable(reasons, code="validation_error")


@router.post("/operator/orders/{order_id}/mailboxes/{mailbox_id}/complete")
def complete(form: PostedForm, order_id: str, mailbox_id: str) -> Response:
    _operator(form)
    wanted = _uuid(order_id, "mailbox_order_not_found")
    box = _uuid(mailbox_id, "mailbox_not_found")
    try:
        fulfilment = _fulfilment(form.fields)
        operator_service.complete_mailbox(
            form.ctx.session,
            form.ctx.secrets,
            mailbox_id=box,
            fulfilment=fulfilment,
            actor=form.ctx.actor,
        )
    except ValidationError as exc:
        return _refused(form, wanted, _invalid(exc), str(box))
    except MailfleetError as exc:
        return _refused(form, wanted, exc, str(box))
    return redirect(f"{PREFIX}/operator/orders/{wanted}")


@router.post("/operator/orders/{order_id}/mailboxes/{mailbox_id}/fail")
def fail(form: PostedForm, order_id: str, mailbox_id: str) -> Response:
    _operator(form)
    wanted = _uuid(order_id, "mailbox_order_not_found")
    box = _uuid(mailbox_id, "mailbox_not_found")
    try:
        reason = operator_schemas.MailboxFail.model_validate({"reason": form.field("reason")})
        operator_service.fail_mailbox(
            form.ctx.session, mailbox_id=box, reason=reason.reason, actor=form.ctx.actor
        )
    except ValidationError as exc:
        return _refused(form, wanted, _invalid(exc), str(box))
    except MailfleetError as exc:
        return _refused(form, wanted, exc, str(box))
    return redirect(f"{PREFIX}/operator/orders/{wanted}")
