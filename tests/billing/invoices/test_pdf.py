"""Invoices as PDF: a document a PDF reader opens, with the invoice's number, lines, total and
billing details; scoped to the workspace like the other invoice routes."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from pypdf import PdfReader

from mailfleet.db import Database
from tests.factories import Caller, fund_wallet, make_tenant, seed_plans


def bought(db: Database, client: TestClient, company: str) -> tuple[Caller, dict]:
    seed_plans(db)
    owner = make_tenant(db)
    details = {
        "company_name": company,
        "contact_email": "billing@acme.test",
        "address_line1": "1 Road",
        "city": "Paris",
        "postal_code": "75001",
        "country": "FR",
    }
    saved = client.put(
        f"/v1/workspaces/{owner.workspace_id}/billing", json=details, headers=owner.headers
    )
    assert saved.status_code == 200, saved.text
    fund_wallet(db, owner.workspace_id, 20_000)
    client.post(
        "/v1/subscriptions", json={"lookup_key": "google_starter_monthly"}, headers=owner.headers
    )
    invoice = client.get("/v1/invoices", headers=owner.headers).json()["items"][0]
    return owner, invoice


def text_of(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def test_an_invoice_renders_as_a_pdf_with_its_number_lines_and_total(
    db: Database, client: TestClient
) -> None:
    owner, invoice = bought(db, client, "Acme Mail & Co")
    response = client.get(f"/v1/invoices/{invoice['id']}.pdf", headers=owner.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f'filename="{invoice["number"]}.pdf"' in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF-")
    text = text_of(response.content)
    assert f"Invoice {invoice['number']}" in text
    assert "Acme Mail & Co" in text
    assert invoice["lines"][0]["description"] in text
    assert "Total" in text
    assert "39.00 USD" in text


def test_names_outside_latin1_are_folded_not_refused(db: Database, client: TestClient) -> None:
    owner, invoice = bought(db, client, "Ōsaka Mail – 株式会社")
    response = client.get(f"/v1/invoices/{invoice['id']}.pdf", headers=owner.headers)
    assert response.status_code == 200
    assert "Osaka Mail - ????" in text_of(response.content)


def test_another_workspace_gets_no_pdf(db: Database, client: TestClient) -> None:
    _, invoice = bought(db, client, "Acme")
    intruder = make_tenant(db)
    response = client.get(f"/v1/invoices/{invoice['id']}.pdf", headers=intruder.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "invoice_not_found"
