"""Read helpers for pages that show a workspace's billing (the console's billing page): the
newest ledger entries and invoices, and one invoice, each scoped to the workspace as
`GET /v1/wallet/entries` and `GET /v1/invoices` read them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from mailfleet.auth.scoping import scoped
from mailfleet.billing.invoices.errors import InvoiceNotFound
from mailfleet.models import Invoice, WalletEntry


def recent_entries(session: Session, workspace_id: uuid.UUID, limit: int) -> Sequence[WalletEntry]:
    """The ledger's newest entries (ids are time-ordered, as the API's pages use them)."""
    statement = scoped(WalletEntry, workspace_id).order_by(WalletEntry.id.desc()).limit(limit)
    return session.scalars(statement).all()


def recent_invoices(session: Session, workspace_id: uuid.UUID, limit: int) -> Sequence[Invoice]:
    statement = scoped(Invoice, workspace_id).order_by(Invoice.id.desc()).limit(limit)
    return session.scalars(statement).all()


def find_invoice(session: Session, workspace_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    found = session.scalars(scoped(Invoice, workspace_id).where(Invoice.id == invoice_id)).first()
    if found is None:
        raise InvoiceNotFound(f"Invoice {invoice_id} not found.")
    return found
