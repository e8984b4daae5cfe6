"""The printable HTML page of an invoice: plain templating, every value escaped (no template
engine is a dependency). Amounts are shown from integer cents, never through floats."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from mailfleet.models import Invoice

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {number}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ccc; padding: .4em; text-align: left; }}
td.amount, th.amount {{ text-align: right; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>Invoice {number}</h1>
<p>Issued {issued} &middot; {kind}</p>
<h2>Billed to</h2>
<address>{billed_to}</address>
<table>
<thead><tr><th>Description</th><th>Period</th><th class="amount">Qty</th>
<th class="amount">Unit</th><th class="amount">Amount</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p class="amount">Subtotal: {subtotal}<br>Credits: {credit}<br><strong>Total: {total}</strong></p>
</body></html>
"""
ROW = (
    '<tr><td>{description}</td><td>{period}</td><td class="amount">{quantity}</td>'
    '<td class="amount">{unit}</td><td class="amount">{amount}</td></tr>'
)
DETAIL_ORDER = (
    "company_name",
    "contact_name",
    "contact_email",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "state",
    "country",
    "vat_number",
)


def money(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d} {currency}"


def _date(value: str | None) -> str:
    return datetime.fromisoformat(value).date().isoformat() if value else ""


def _row(line: dict[str, Any], currency: str) -> str:
    start, end = _date(line.get("period_start")), _date(line.get("period_end"))
    return ROW.format(
        description=escape(str(line.get("description", ""))),
        period=escape(f"{start} – {end}" if start or end else ""),
        quantity=escape(str(line.get("quantity", ""))),
        unit=escape(money(int(line.get("unit_amount_cents", 0)), currency)),
        amount=escape(money(int(line.get("amount_cents", 0)), currency)),
    )


def _billed_to(details: dict[str, Any] | None) -> str:
    if not details:
        return "(no billing details on file)"
    known = [details[k] for k in DETAIL_ORDER if details.get(k)]
    others = [v for k, v in sorted(details.items()) if k not in DETAIL_ORDER and v]
    return "<br>".join(escape(str(value)) for value in [*known, *others])


def html_page(invoice: Invoice) -> str:
    currency = invoice.currency
    return PAGE.format(
        number=escape(invoice.number),
        issued=escape(invoice.issued_at.date().isoformat()),
        kind=escape(invoice.kind.value.replace("_", " ").lower()),
        billed_to=_billed_to(invoice.billing_details),
        rows="\n".join(_row(line, currency) for line in invoice.lines),
        subtotal=escape(money(invoice.subtotal_cents, currency)),
        credit=escape(money(-invoice.credit_cents, currency)),
        total=escape(money(invoice.total_cents, currency)),
    )
