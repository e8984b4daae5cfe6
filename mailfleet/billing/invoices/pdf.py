"""The invoice as a PDF (fpdf2, pure Python): the same content as the printable HTML page,
laid out as one A4 table. Amounts come from integer cents through `render.money`.

fpdf2's built-in fonts (Helvetica) cover Latin-1 only, and shipping a TrueType font for the
rest is not worth its weight here: other characters are folded to their closest Latin-1 form
(an en dash becomes "-") or shown as "?", never dropped silently into a broken file.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from fpdf import FPDF

from mailfleet.billing.invoices.render import DETAIL_ORDER, money
from mailfleet.models import Invoice

# Column widths in mm (A4 is 210 wide; 15 mm margins leave 180).
COLUMNS = (("Description", 72), ("Period", 44), ("Qty", 14), ("Unit", 25), ("Amount", 25))
FOLDS = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}


def latin1(text: object) -> str:
    """`text` in the characters the core fonts can draw."""
    folded = "".join(FOLDS.get(char, char) for char in str(text))
    try:
        return folded.encode("latin-1").decode("latin-1")
    except UnicodeEncodeError:
        decomposed = unicodedata.normalize("NFKD", folded)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        return plain.encode("latin-1", "replace").decode("latin-1")


def _period(line: dict[str, Any]) -> str:
    start = str(line.get("period_start") or "")[:10]
    end = str(line.get("period_end") or "")[:10]
    return f"{start} - {end}" if start or end else ""


def _billed_to(details: dict[str, Any] | None) -> list[str]:
    if not details:
        return ["(no billing details on file)"]
    known = [details[k] for k in DETAIL_ORDER if details.get(k)]
    others = [v for k, v in sorted(details.items()) if k not in DETAIL_ORDER and v]
    return [latin1(value) for value in [*known, *others]]


def _table(pdf: FPDF, invoice: Invoice) -> None:
    pdf.set_font("Helvetica", "B", 9)
    for title, width in COLUMNS:
        pdf.cell(width, 7, title, border="B", align="L" if width > 30 else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for line in invoice.lines:
        cells = (
            latin1(line.get("description", "")),
            _period(line),
            str(line.get("quantity", "")),
            money(int(line.get("unit_amount_cents", 0)), invoice.currency),
            money(int(line.get("amount_cents", 0)), invoice.currency),
        )
        for (_, width), text in zip(COLUMNS, cells, strict=True):
            # Long descriptions are cut to the column rather than overlapping the next one.
            while text and pdf.get_string_width(text) > width - 2:
                text = text[:-1]
            pdf.cell(width, 6, text, border="B", align="L" if width > 30 else "R")
        pdf.ln()


def pdf_bytes(invoice: Invoice) -> bytes:
    """The invoice as a PDF document."""
    pdf = FPDF(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_title(latin1(f"Invoice {invoice.number}"))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, latin1(f"Invoice {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    kind = invoice.kind.value.replace("_", " ").lower()
    issued = invoice.issued_at.date().isoformat()
    pdf.cell(0, 6, latin1(f"Issued {issued} - {kind}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Billed to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for text in _billed_to(invoice.billing_details):
        pdf.cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    _table(pdf, invoice)
    pdf.ln(4)
    currency = invoice.currency
    totals = (
        ("Subtotal", money(invoice.subtotal_cents, currency)),
        ("Credits", money(-invoice.credit_cents, currency)),
        ("Total", money(invoice.total_cents, currency)),
    )
    for label, amount in totals:
        pdf.set_font("Helvetica", "B" if label == "Total" else "", 10)
        pdf.cell(155, 6, label, align="R")
        pdf.cell(25, 6, amount, align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
