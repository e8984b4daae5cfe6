"""Issue invoices. The caller commits.

An invoice is written in the same transaction as the wallet entry it documents, so there is
never a charge without its invoice or an invoice without its charge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
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
        # By hand: dataclasses.asdict deep-copies every field and showed in renewal profiles.
        start, end = self.period_start, self.period_end
        return {
            "description": self.description,
            "quantity": self.quantity,
            "unit_amount_cents": self.unit_amount_cents,
            "amount_cents": self.amount_cents,
            "period_start": start.isoformat() if start else None,
            "period_end": end.isoformat() if end else None,
        }


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


@dataclass(frozen=True)
class Draft:
    """One invoice of a batch (`issue_many`): what `issue` takes, for one charge."""

    workspace_id: uuid.UUID
    kind: LedgerKind
    lines: list[Line]
    currency: str
    subscription_id: uuid.UUID | None = None
    wallet_entry_id: uuid.UUID | None = None


def issue_many(session: Session, drafts: list[Draft], *, actor: str) -> list[uuid.UUID]:
    """`issue` for many charges at once (a renewal run): one insert of the invoices and one of
    their invoice.created events; returns their ids in the drafts' order."""
    if not drafts:
        return []
    details = dict(
        session.execute(
            select(Workspace.id, Workspace.billing_details).where(
                Workspace.id.in_({d.workspace_id for d in drafts})
            )
        ).all()
    )
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for draft in drafts:
        charged = [line for line in draft.lines if line.amount_cents >= 0]
        credits = -sum(line.amount_cents for line in draft.lines if line.amount_cents < 0)
        subtotal = total_of(charged)
        invoice_id = uuid7()
        rows.append(
            {
                "id": invoice_id,
                "created_at": now,
                "number": invoice_number(invoice_id, now),
                "workspace_id": draft.workspace_id,
                "kind": draft.kind,
                "subscription_id": draft.subscription_id,
                "wallet_entry_id": draft.wallet_entry_id,
                "currency": draft.currency,
                "lines": [line.as_json() for line in draft.lines],
                "subtotal_cents": subtotal,
                "credit_cents": min(credits, subtotal),
                "total_cents": max(0, subtotal - credits),
                "billing_details": dict(details.get(draft.workspace_id) or {}),
                "issued_at": now,
            }
        )
    session.execute(insert(cast(Table, Invoice.__table__)), rows)
    events.record_all(
        session,
        (
            events.NewEvent(
                row["workspace_id"],
                EventType.INVOICE_CREATED,
                "invoice",
                row["id"],
                actor,
                {
                    "number": row["number"],
                    "kind": row["kind"].value,
                    "total_cents": row["total_cents"],
                    "currency": row["currency"],
                    "subscription_id": str(row["subscription_id"])
                    if row["subscription_id"]
                    else None,
                },
            )
            for row in rows
        ),
    )
    return [row["id"] for row in rows]


def latest_for_subscription(
    session: Session, workspace_id: uuid.UUID, subscription_id: uuid.UUID
) -> Invoice | None:
    """The newest invoice of a subscription (its purchase, renewals, add-ons), in the
    workspace."""
    return session.scalars(
        select(Invoice)
        .where(Invoice.workspace_id == workspace_id, Invoice.subscription_id == subscription_id)
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
        .limit(1)
    ).first()
