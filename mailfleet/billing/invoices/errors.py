"""The errors of invoices."""

from __future__ import annotations

from mailfleet.exceptions import NotFound


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"
