"""Issue invoices. The caller commits.

An invoice is written in the same transaction as the wallet entry it documents, so there is
never a charge without its invoice or an invoice without its charge.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Invoice, LedgerKind, Workspace


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_amount_cents: int
    # Usually quantity x unit amount; a prorated line says what it charges (or credits: < 0).
    amount_cents: int
    period_start: datetime | None = None
    period_end: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        for key in ("period_start", "period_end"):
            row[key] = row[key].isoformat() if row[key] else None
        return row


def total_of(lines: list[Line]) -> int:
    return sum(line.amount_cents for line in lines)


def invoice_number(invoice_id: uuid.UUID, issued_at: datetime) -> str:
    # Unique without a shared counter (ids are UUIDv7, so numbers sort by time too).
    return f"MF-{issued_at:%Y%m}-{invoice_id.hex[-10:].upper()}"


def issue(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    kind: LedgerKind,
    lines: list[Line],
    currency: str,
    actor: str,
    subscription_id: uuid.UUID | None = None,
    wallet_entry_id: uuid.UUID | None = None,
) -> Invoice:
    """An invoice for `lines`: credits (negative lines) reduce the total, never below zero."""
    charged = [line for line in lines if line.amount_cents >= 0]
    credits = -sum(line.amount_cents for line in lines if line.amount_cents < 0)
    subtotal = total_of(charged)
    workspace = session.get(Workspace, workspace_id)
    now = clock.now()
    invoice = Invoice(
        workspace_id=workspace_id,
        kind=kind,
        subscription_id=subscription_id,
        wallet_entry_id=wallet_entry_id,
        currency=currency,
        lines=[line.as_json() for line in lines],
        subtotal_cents=subtotal,
        credit_cents=min(credits, subtotal),
        total_cents=max(0, subtotal - credits),
        billing_details=dict(workspace.billing_details or {}) if workspace else None,
        issued_at=now,
    )
    invoice.id = uuid7()
    invoice.number = invoice_number(invoice.id, now)
    session.add(invoice)
    session.flush()
    events.record(
        session,
        workspace_id=workspace_id,
        type=EventType.INVOICE_CREATED,
        subject_type="invoice",
        subject_id=invoice.id,
        actor=actor,
        number=invoice.number,
        kind=kind.value,
        total_cents=invoice.total_cents,
        currency=currency,
        subscription_id=str(subscription_id) if subscription_id else None,
    )
    return invoice
