"""The wallet API: balance, ledger (paged and as CSV), and operators' adjustments.

Any member reads; only operators adjust (the `none` payments provider's way to credit a
wallet, e.g. after a bank transfer). Reading never creates a wallet: a workspace without one
shows an empty one at the deployment's defaults.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Select, select

from mailfleet.auth.dependencies import Operator, Viewer
from mailfleet.billing.wallet import schemas
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.db import Database
from mailfleet.exceptions import NotFound
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam, paginate, split_page
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import LedgerKind, WalletEntry, Workspace

router = APIRouter(tags=["wallet"])
operator_router = APIRouter(prefix="/operator", tags=["operator"])

CSV_COLUMNS = (
    "id",
    "created_at",
    "kind",
    "amount_cents",
    "balance_after_cents",
    "currency",
    "reason",
    "actor",
    "reference_type",
    "reference_id",
)
CSV_BATCH = 1000
# Text cells a spreadsheet would run as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

KindFilter = Annotated[LedgerKind | None, Query(description="Only entries of this kind.")]
Since = Annotated[datetime | None, Query(description="Entries created at or after this time.")]
Until = Annotated[datetime | None, Query(description="Entries created before this time.")]
ReferenceFilter = Annotated[
    str | None,
    Query(
        description="What an entry paid for or came from: `type` or `type:id` "
        "(e.g. `subscription`, `payment:0190...`).",
        max_length=150,
    ),
]


@router.get("/wallet", response_model=schemas.Wallet)
def get_wallet(ctx: Viewer) -> Response:
    """The balance, the auto-recharge settings and whether a card is saved."""
    purse = wallet_service.find_wallet(ctx.session, ctx.workspace())
    return render(schemas.Wallet, wallet_service.wallet_view(ctx.settings, purse))


def _entries(
    workspace_id: uuid.UUID,
    kind: LedgerKind | None,
    since: datetime | None,
    until: datetime | None,
    reference: str | None,
) -> Select[Any]:
    statement = select(WalletEntry).where(WalletEntry.workspace_id == workspace_id)
    if kind is not None:
        statement = statement.where(WalletEntry.kind == kind)
    if since is not None:
        statement = statement.where(WalletEntry.created_at >= _utc(since))
    if until is not None:
        statement = statement.where(WalletEntry.created_at < _utc(until))
    if reference:
        ref_type, _, ref_id = reference.partition(":")
        statement = statement.where(WalletEntry.reference_type == ref_type)
        if ref_id:
            statement = statement.where(WalletEntry.reference_id == ref_id)
    return statement


def _utc(moment: datetime) -> datetime:
    # Stored times are UTC; a query without an offset means UTC.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get(
    "/wallet/entries",
    response_model=Page[schemas.WalletEntry],
    openapi_extra=errors("invalid_cursor"),
)
def list_entries(
    ctx: Viewer,
    kind: KindFilter = None,
    since: Since = None,
    until: Until = None,
    reference: ReferenceFilter = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> Response:
    """The ledger, newest first, with filters; every entry carries the balance after it."""
    statement = _entries(ctx.workspace(), kind, since, until, reference)
    rows = ctx.session.scalars(paginate(statement, WalletEntry.id, cursor, limit)).all()
    page, next_cursor = split_page(rows, limit, lambda row: row.id)
    return render_page(schemas.WalletEntry, page, next_cursor)


@router.get(
    "/wallet/entries.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The filtered ledger as CSV"}},
)
def export_entries(
    ctx: Viewer,
    request: Request,
    kind: KindFilter = None,
    since: Since = None,
    until: Until = None,
    reference: ReferenceFilter = None,
) -> StreamingResponse:
    """The same filters as the ledger list, every matching entry, newest first, streamed."""
    statement = _entries(ctx.workspace(), kind, since, until, reference)
    database: Database = request.app.state.db
    return StreamingResponse(
        _csv_rows(database, statement),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="wallet-entries.csv"'},
    )


def _csv_rows(database: Database, statement: Select[Any]) -> Iterator[str]:
    """CSV in batches, each read in a short transaction of its own (keyset, no OFFSET)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        with database.transaction(write=False) as session:
            rows = session.scalars(paginate(statement, WalletEntry.id, cursor, CSV_BATCH)).all()
            page, cursor = split_page(rows, CSV_BATCH, lambda row: row.id)
            for entry in page:
                writer.writerow(_csv_row(entry))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if cursor is None:
            return


def _csv_row(entry: WalletEntry) -> list[object]:
    return [
        entry.id,
        entry.created_at.isoformat(),
        entry.kind.value,
        entry.amount_cents,
        entry.balance_after_cents,
        entry.currency,
        _cell(entry.reason),
        _cell(entry.actor),
        _cell(entry.reference_type),
        _cell(entry.reference_id),
    ]


def _cell(text: str | None) -> str:
    if not text:
        return ""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@operator_router.post(
    "/workspaces/{workspace_id}/wallet/adjustments",
    status_code=201,
    response_model=schemas.WalletEntry,
    openapi_extra=errors("invalid_amount", "insufficient_funds", "workspace_not_found"),
)
def adjust_wallet(
    workspace_id: uuid.UUID, body: schemas.AdjustmentCreate, ctx: Operator
) -> Response:
    """Credit (positive) or debit (negative) a workspace's wallet by hand, with a reason: how
    money received outside Mailfleet (a bank transfer) reaches a wallet."""
    workspace = ctx.session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(f"Workspace {workspace_id} not found.", code="workspace_not_found")
    movement = wallet_service.adjust(
        ctx.session, workspace.id, body.amount_cents, reason=body.reason, actor=ctx.actor
    )
    entry = ctx.session.get(WalletEntry, movement.entry_id)
    return render(schemas.WalletEntry, entry, status=201)
