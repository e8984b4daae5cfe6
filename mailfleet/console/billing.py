"""The billing page: the wallet's balance and auto-recharge, its newest ledger entries and the
workspace's newest invoices, each invoice linking to its printable page (the same page as
`GET /v1/invoices/{id}.html`, served here under the session cookie). Read only, for any member.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

from mailfleet.auth.dependencies import Viewer
from mailfleet.billing import reading
from mailfleet.billing.invoices import render as invoice_render
from mailfleet.billing.invoices.errors import InvoiceNotFound
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.console.web import SECURITY_HEADERS, page

router = APIRouter(include_in_schema=False)
# The newest of each on the page; the API (and its CSV export) has them all.
ENTRY_ROWS = 50
INVOICE_ROWS = 50
# The printable invoice carries its own inline stylesheet (it must print and save as one file).
INVOICE_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
}


@router.get("/billing")
def billing(ctx: Viewer) -> Response:
    workspace_id = ctx.workspace()
    wallet = wallet_service.wallet_view(
        ctx.settings, wallet_service.find_wallet(ctx.session, workspace_id)
    )
    return page(
        ctx,
        "billing.html",
        wallet=wallet,
        entries=reading.recent_entries(ctx.session, workspace_id, ENTRY_ROWS),
        invoices=reading.recent_invoices(ctx.session, workspace_id, INVOICE_ROWS),
    )


@router.get("/invoices/{invoice_id}")
def invoice(ctx: Viewer, invoice_id: str) -> Response:
    try:
        wanted = uuid.UUID(invoice_id)
    except ValueError as exc:
        raise InvoiceNotFound(f"Invoice {invoice_id[:64]} not found.") from exc
    found = reading.find_invoice(ctx.session, ctx.workspace(), wanted)
    return HTMLResponse(invoice_render.html_page(found), headers=INVOICE_HEADERS)
