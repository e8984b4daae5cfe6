"""Invoices: any member of the workspace lists them and reads one, as JSON, printable HTML or
PDF."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from mailfleet.auth.dependencies import Viewer
from mailfleet.auth.scoping import scoped
from mailfleet.billing.invoices import pdf as invoice_pdf_render
from mailfleet.billing.invoices import render as invoice_render
from mailfleet.billing.invoices import schemas
from mailfleet.billing.invoices.errors import InvoiceNotFound
from mailfleet.billing.subscriptions import service as subscriptions
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam, paginate, split_page
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import Invoice

router = APIRouter(tags=["billing"])


def _get(ctx: Viewer, invoice_id: uuid.UUID) -> Invoice:
    found = ctx.session.scalars(
        scoped(Invoice, ctx.workspace()).where(Invoice.id == invoice_id)
    ).first()
    if found is None:
        raise InvoiceNotFound(f"Invoice {invoice_id} not found.")
    return found


@router.get(
    "/invoices",
    response_model=Page[schemas.Invoice],
    openapi_extra=errors("subscription_not_found"),
)
def list_invoices(
    ctx: Viewer,
    cursor: CursorParam = None,
    limit: Limit = 50,
    subscription_id: Annotated[
        str | None, Query(max_length=64, description="A subscription's UUID or sub_ id.")
    ] = None,
) -> Response:
    """The workspace's invoices, newest first."""
    workspace_id = ctx.workspace()
    statement = scoped(Invoice, workspace_id)
    if subscription_id:
        subscription = subscriptions.find(ctx.session, workspace_id, subscription_id)
        statement = statement.where(Invoice.subscription_id == subscription.id)
    rows = ctx.session.scalars(paginate(statement, Invoice.id, cursor, limit)).all()
    page, next_cursor = split_page(rows, limit, lambda i: i.id)
    return render_page(schemas.Invoice, page, next_cursor)


# Before the JSON route: "{invoice_id}" alone would also match "<id>.html" and "<id>.pdf".
@router.get(
    "/invoices/{invoice_id}.html",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "A printable page."}},
    openapi_extra=errors("invoice_not_found"),
)
def invoice_page(invoice_id: uuid.UUID, ctx: Viewer) -> HTMLResponse:
    """The invoice as a printable HTML page (lines, totals, billing details of the time)."""
    return HTMLResponse(invoice_render.html_page(_get(ctx, invoice_id)))


@router.get(
    "/invoices/{invoice_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "A PDF document."}},
    openapi_extra=errors("invoice_not_found"),
)
def invoice_pdf(invoice_id: uuid.UUID, ctx: Viewer) -> Response:
    """The invoice as a PDF (the same content as the HTML page)."""
    invoice = _get(ctx, invoice_id)
    return Response(
        invoice_pdf_render.pdf_bytes(invoice),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice.number}.pdf"'},
    )


@router.get(
    "/invoices/{invoice_id}",
    response_model=schemas.Invoice,
    openapi_extra=errors("invoice_not_found"),
)
def get_invoice(invoice_id: uuid.UUID, ctx: Viewer) -> Response:
    """One invoice: lines, totals, the wallet entry and the billing details of the time."""
    return render(schemas.Invoice, _get(ctx, invoice_id))
